"""The sample's KITTI road (data_road): images, calib/, Velodyne scans with their true point labels, and the
road (and um lane) ground truth in data_road's colours, at data_road's slightly varying sizes."""

from dataclasses import replace
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import name2label

from utils.data.kitti_calib import format_calib
from utils.data.kitti_layout import CATEGORIES, GT_DONT_CARE, GT_NOT_ROAD, GT_ROAD
from utils.sample_data.calib import sample_calib
from utils.sample_data.lidar import scan
from utils.sample_data.street import ground_lateral_x, make_street, render
from utils.visualize import save_rgb

SAMPLE_SIZES = [(375, 1242), (370, 1224), (374, 1238), (376, 1241)]  # data_road's images differ by a few pixels


def jobs(out: Path, spec, seed) -> list:
    out_jobs = []
    for split, count in (("training", spec.kitti_train_per_category), ("testing", spec.kitti_test_per_category)):
        for c, category in enumerate(CATEGORIES):
            for i in range(count):
                size = SAMPLE_SIZES[(i + c) % len(SAMPLE_SIZES)]
                out_jobs.append((write_kitti_frame, (out, split, category, i, seed(split, category, i), size)))
    return out_jobs


def kitti_gt(canvas, street, size, lane: bool) -> np.ndarray:
    """RGB gt as in data_road: magenta road (or ego lane), red elsewhere, black where it does not count."""
    h, w = size
    road = canvas.label_ids == name2label["road"].id
    if lane:
        x = ground_lateral_x(street, h, w)
        lo, hi = street["ego_lane"]
        road &= (x >= lo) & (x <= hi)
    gt = np.empty((h, w, 3), np.uint8)
    gt[:] = GT_NOT_ROAD
    gt[road] = GT_ROAD
    # The far road near the horizon is too small to label reliably; the devkit's black marks it "don't care".
    top = int(street["horizon"])
    gt[top : top + max(2, int(0.03 * h))] = GT_DONT_CARE
    return gt


def write_kitti_frame(root: Path, split: str, category: str, index: int, rng, size) -> None:
    """data_road/{split}/image_2/{category}_{index}.png, calib/ and velodyne/ (with the true point labels in
    velodyne_labels/), plus road (and um lane) gt for training."""
    street = make_street(rng, size[0], size[1], category)
    base = root / "data_road" / split
    canvas = write_camera_and_scan(street, size, base, f"{category}_{index:06d}", road_calib=True)
    if split == "training":
        save_rgb(base / "gt_image_2" / f"{category}_road_{index:06d}.png", kitti_gt(canvas, street, size, lane=False))
        if category == "um":
            save_rgb(
                base / "gt_image_2" / f"{category}_lane_{index:06d}.png", kitti_gt(canvas, street, size, lane=True)
            )


def write_camera_and_scan(street: dict, size, base: Path, name: str, road_calib: bool):
    """``base``/image_2/<name>.png, calib/<name>.txt (with Tr_cam_to_road only for the road benchmark),
    velodyne/<name>.bin and the true point labels velodyne_labels/<name>.label; returns the rendered canvas."""
    canvas = render(street, size[0], size[1])
    save_rgb(base / "image_2" / f"{name}.png", canvas.finish(*street["lighting"]))
    calib = sample_calib(street["focal"], size[1] / 2, street["horizon"], street["camera_height"])
    (base / "calib").mkdir(parents=True, exist_ok=True)
    (base / "calib" / f"{name}.txt").write_text(
        format_calib(calib if road_calib else replace(calib, Tr_cam_to_road=None))
    )
    points, point_labels = scan(street, np.random.default_rng(street["seed"] + 1))
    for folder, array, suffix in (("velodyne", points, ".bin"), ("velodyne_labels", point_labels, ".label")):
        (base / folder).mkdir(parents=True, exist_ok=True)
        array.tofile(base / folder / f"{name}{suffix}")
    return canvas
