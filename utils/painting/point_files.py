"""The point files: Velodyne scans and true point labels in, painted scans, labels and PLY clouds out.

A scan is float32 rows x, y, z, reflectance (every KITTI layout writes them so). True point labels, where the
sample has them, are uint32: Cityscapes label id in the low 16 bits and the object instance in the high 16
(SemanticKITTI's layout).
"""

from pathlib import Path

import numpy as np

from utils.config.errors import UserError


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
