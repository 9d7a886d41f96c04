"""KITTI road calibration files (``calib/<name>.txt``) and the projections built on them.

A file holds one ``KEY: v1 v2 ...`` line per matrix, row-major: ``P0``..``P3`` (3x4 projections of the
rectified cameras; the left colour camera is ``P2``), ``R0_rect`` (3x3 rectifying rotation),
``Tr_velo_to_cam`` and ``Tr_imu_to_velo`` (3x4 rigid transforms) and, for the road benchmark,
``Tr_cam_to_road`` (3x4, camera to the road frame: X right, Y down, Z forward, the road plane at Y = 0).

Pixel coordinates are KITTI's: ``u`` to the right and ``v`` down, pixel centres at integers from 0.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.config.errors import UserError

SHAPES = {
    "P0": (3, 4),
    "P1": (3, 4),
    "P2": (3, 4),
    "P3": (3, 4),
    "R0_rect": (3, 3),
    "Tr_velo_to_cam": (3, 4),
    "Tr_imu_to_velo": (3, 4),
    "Tr_cam_to_road": (3, 4),
}
REQUIRED = ("P2", "R0_rect", "Tr_velo_to_cam", "Tr_cam_to_road")


@dataclass(frozen=True)
class KittiCalib:
    """The matrices of one frame, float64, as shaped in :data:`SHAPES`."""

    P0: np.ndarray
    P1: np.ndarray
    P2: np.ndarray
    P3: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    Tr_imu_to_velo: np.ndarray
    Tr_cam_to_road: np.ndarray


def to_homogeneous(matrix: np.ndarray) -> np.ndarray:
    """A 3x3 rotation or a 3x4 transform as the 4x4 matrix that acts on homogeneous points."""
    out = np.eye(4)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def read_calib(path) -> KittiCalib:
    """Parses a KITTI road ``calib/<name>.txt``; a missing key or a wrong count is a UserError naming both."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(
            f"Cannot read calibration file '{path}' ({exc.strerror}). It comes with data_road.zip as "
            "data_road/<split>/calib/<name>.txt."
        ) from None
    values = {}
    for line in text.splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        key, raw = line.split(":", 1)
        try:
            values[key.strip()] = np.array(raw.split(), np.float64)
        except ValueError:
            raise UserError(f"Calibration file '{path}': the values of '{key.strip()}' are not numbers.") from None
    missing = [k for k in REQUIRED if k not in values]
    if missing:
        raise UserError(
            f"Calibration file '{path}' lacks {', '.join(missing)}; a KITTI road calib file has {', '.join(SHAPES)}."
        )
    matrices = {}
    for key, shape in SHAPES.items():
        if key not in values:
            matrices[key] = np.eye(*shape)  # P0, P1, P3 and Tr_imu_to_velo are not needed here
            continue
        if values[key].size != shape[0] * shape[1]:
            raise UserError(
                f"Calibration file '{path}': '{key}' has {values[key].size} values, expected {shape[0] * shape[1]} "
                f"({shape[0]}x{shape[1]})."
            )
        matrices[key] = values[key].reshape(shape)
    return KittiCalib(**matrices)


def format_calib(calib: KittiCalib) -> str:
    """The file text, in KITTI's own layout: one ``KEY: `` line per matrix, values in %.12e, single spaces."""
    return "".join(f"{key}: " + " ".join(f"{v:.12e}" for v in getattr(calib, key).ravel()) + "\n" for key in SHAPES)


def velo_to_cam_matrix(calib: KittiCalib) -> np.ndarray:
    """4x4: Velodyne points to rectified camera coordinates, ``R0_rect · Tr_velo_to_cam``."""
    return to_homogeneous(calib.R0_rect) @ to_homogeneous(calib.Tr_velo_to_cam)


def project_velo(points: np.ndarray, calib: KittiCalib) -> tuple:
    """Velodyne points to pixels: ``x = P2 · R0_rect · Tr_velo_to_cam · [X Y Z 1]^T``, ``u = x0/x2``, ``v = x1/x2``.

    Args:
        points: (N, 3) or more columns; the first three are x (forward), y (left), z (up) in metres.
    Returns:
        (uv, depth): (N, 2) float64 pixel coordinates and (N,) depth along the rectified camera axis
        (positive in front of the camera; ``uv`` is meaningless where it is not).
    """
    xyz = np.asarray(points)[:, :3].astype(np.float64)
    # The matrices are folded once into one 4x4 (image rows, then the camera depth row), so the points
    # go through a single product.
    velo_to_cam = velo_to_cam_matrix(calib)
    folded = np.vstack([calib.P2 @ velo_to_cam, velo_to_cam[2:3]])
    x = xyz @ folded[:, :3].T + folded[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = x[:, :2] / x[:, 2:3]
    return uv, x[:, 3]


def points_in_image(points: np.ndarray, calib: KittiCalib, height: int, width: int) -> tuple:
    """The points :func:`project_velo` puts in front of the camera and inside the image, and their pixels.

    The depth row goes first, so only the points in front are projected (about half of a full turn).

    Returns:
        (index, rows, cols): (M,) int64 indices into ``points`` and the (row, col) of each one's nearest pixel centre.
    """
    xyz = np.asarray(points)[:, :3].astype(np.float64)
    velo_to_cam = velo_to_cam_matrix(calib)
    front = np.flatnonzero(xyz @ velo_to_cam[2, :3] + velo_to_cam[2, 3] > 0)
    full = calib.P2 @ velo_to_cam
    x = xyz[front] @ full[:, :3].T + full[:, 3]
    uv = x[:, :2] / x[:, 2:3]
    keep = in_image(uv, np.ones(len(uv)), height, width)
    rows, cols = pixel_index(uv[keep])
    return front[keep], rows, cols


def in_image(uv: np.ndarray, depth: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N,) bool: in front of the camera and on a pixel of an image of ``height`` x ``width``."""
    u, v = uv[:, 0], uv[:, 1]
    return (depth > 0) & (u >= -0.5) & (u < width - 0.5) & (v >= -0.5) & (v < height - 0.5)


def pixel_index(uv: np.ndarray) -> tuple:
    """(rows, cols) int64 of the pixels whose centres are nearest to ``uv`` (points already in the image)."""
    return np.floor(uv[:, 1] + 0.5).astype(np.int64), np.floor(uv[:, 0] + 0.5).astype(np.int64)


def road_to_image_homography(calib: KittiCalib) -> np.ndarray:
    """3x3 H with ``[u v 1] ~ H · [X Z 1]`` for road-plane points (Y = 0 in the road frame).

    As the devkit builds it: ``P2 · R0_rect · inverse(Tr_cam_to_road)``, keeping the X, Z and
    translation columns.
    """
    full = calib.P2 @ to_homogeneous(calib.R0_rect) @ np.linalg.inv(to_homogeneous(calib.Tr_cam_to_road))
    return full[:, [0, 2, 3]]


def calib_path_for(image_path) -> Path:
    """data_road/<split>/image_2/<name>.png -> data_road/<split>/calib/<name>.txt."""
    image_path = Path(image_path)
    return image_path.parent.parent / "calib" / f"{image_path.stem}.txt"
