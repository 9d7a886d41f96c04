"""KITTI frames to paint, and the point files: Velodyne scans in, painted scans, labels and PLY clouds out.

A frame is ``data_road/<split>/image_2/<name>.png`` with ``calib/<name>.txt`` and the scan
``velodyne/<name>.bin`` (float32 rows x, y, z, reflectance), found under ``data_road/<split>/`` or, as
``data_road_velodyne.zip`` unpacks, ``data_road_velodyne/<split>/``. True point labels, where the sample
has them, are ``velodyne_labels/<name>.label``: uint32, Cityscapes label id in the low 16 bits and the
object instance in the high 16 (SemanticKITTI's layout).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from utils.config.errors import UserError
from utils.data.kitti_calib import calib_path_for
from utils.data.kitti_layout import data_road_base

VELODYNE_HELP = (
    "KITTI ships the road benchmark's scans as data_road_velodyne.zip "
    "(https://www.cvlibs.net/datasets/kitti/eval_road.php): "
    "unzip it beside data_road/ so that data_road_velodyne/<split>/velodyne/<name>.bin (or "
    "data_road/<split>/velodyne/) exists."
)


@dataclass(frozen=True)
class Frame:
    name: str
    image: Path
    calib: Path
    velodyne: Path
    truth: Optional[Path]


def kitti_layout(root) -> bool:
    """Whether ``root`` (or its data_road/) holds a KITTI road split."""
    return any(data_road_base(root, split) is not None for split in ("training", "testing"))


def kitti_frames(root, split: str) -> list:
    """(frames, missing): every frame of ``split`` (training or testing) under ``root`` with an image, a calib
    file and a scan, and the names of the images that lack one of them."""
    root = Path(root)
    base = data_road_base(root, split)
    if base is None:
        raise UserError(
            f"No data_road/{split}/image_2 under '{root}' (paint.root, else paths.root). Set paint.root to the folder "
            "holding KITTI's data_road/."
        )
    scans = [base / split / "velodyne", base.parent / "data_road_velodyne" / split / "velodyne"]
    frames, missing = [], []
    for image in sorted((base / split / "image_2").glob("*.png")):
        scan = next((d / f"{image.stem}.bin" for d in scans if (d / f"{image.stem}.bin").is_file()), None)
        calib = calib_path_for(image)
        if scan is None or not calib.is_file():
            missing.append(image.stem)
            continue
        truth = base / split / "velodyne_labels" / f"{image.stem}.label"
        frames.append(Frame(image.stem, image, calib, scan, truth if truth.is_file() else None))
    if not frames:
        raise UserError(
            f"No frame under '{base / split}' has both calib/<name>.txt and a Velodyne scan (looked in {scans[0]} and "
            f"{scans[1]}). {VELODYNE_HELP}"
        )
    return frames, missing


def read_scan(path) -> np.ndarray:
    """(N, 4) float32: x forward, y left, z up (metres), reflectance."""
    data = np.fromfile(path, np.float32)
    if data.size % 4:
        raise UserError(
            f"Velodyne scan '{path}' holds {data.size} floats, not a multiple of 4 (x, y, z, reflectance): the file "
            "is truncated or not a KITTI scan."
        )
    return data.reshape(-1, 4)


def read_point_labels(path, count: int) -> np.ndarray:
    """(N,) uint32 true labels of a scan of ``count`` points."""
    labels = np.fromfile(path, np.uint32)
    if labels.size != count:
        raise UserError(f"Point labels '{path}' hold {labels.size} entries for a scan of {count} points.")
    return labels


def write_ply(path, xyz: np.ndarray, rgb: np.ndarray) -> None:
    """A binary little-endian PLY of coloured points (Open3D, CloudCompare and MeshLab read it)."""
    rows = np.empty(
        len(xyz), [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    rows["x"], rows["y"], rows["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    rows["red"], rows["green"], rows["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    header = "ply\nformat binary_little_endian 1.0\n" + f"element vertex {len(xyz)}\n"
    header += "".join(
        f"property {t} {n}\n"
        for n, t in (
            ("x", "float"),
            ("y", "float"),
            ("z", "float"),
            ("red", "uchar"),
            ("green", "uchar"),
            ("blue", "uchar"),
        )
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write((header + "end_header\n").encode("ascii"))
        f.write(rows.tobytes())


def write_array(path, array: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(array).tofile(path)
