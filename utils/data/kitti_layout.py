"""KITTI's file conventions: the road benchmark's (data_road) image and ground-truth names, where its folders lie
and its gt colours; the object benchmark's frame names and the raw recordings' drive and frame names.

A leaf with no heavy imports: the devkit scorer, eval's KITTI results, painting and the sample all read these.
"""

import re
from pathlib import Path
from typing import Optional

import numpy as np

# data_road's image and ground-truth names: um_000012.png, um_road_000012.png, um_lane_000012.png.
NAME = re.compile(r"(um|umm|uu)_(\d+)")
GT_NAME = re.compile(r"(um|umm|uu)_(road|lane)_(\d+)")
CATEGORIES = ("um", "umm", "uu")
# The object benchmark: <split>/{image_2,calib,velodyne}/000123.{png,txt,bin}.
OBJECT_NAME = re.compile(r"\d{6}")
# A raw recording: <date>/<date>_drive_<n>_sync/{image_02/data,velodyne_points/data}/0000000123.{png,bin}.
RAW_DRIVE_GLOB, RAW_FRAME = "*_drive_*_sync", re.compile(r"\d{10}")

# Ground-truth colours (RGB) as data_road draws them: magenta road (or lane), red not road, black outside the
# valid area; indexed by the decoded gt (0 road, 1 not road, anything else black).
GT_ROAD, GT_NOT_ROAD, GT_DONT_CARE = (255, 0, 255), (255, 0, 0), (0, 0, 0)
GT_COLORS = np.zeros((256, 3), np.uint8)
GT_COLORS[0], GT_COLORS[1] = GT_ROAD, GT_NOT_ROAD


def data_road_base(root, split: str = "training") -> Optional[Path]:
    """The folder holding ``split``/image_2: ``root``/data_road or ``root`` itself; None when neither does."""
    root = Path(root)
    return next((b for b in (root / "data_road", root) if (b / split / "image_2").is_dir()), None)
