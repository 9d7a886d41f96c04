"""KITTI calibration files and the projections built on them.

The road and object benchmarks keep one ``calib/<name>.txt`` per frame, with one ``KEY: v1 v2 ...`` line per
matrix, row-major: ``P0``..``P3`` (3x4 projections of the rectified cameras; the left colour camera is ``P2``),
``R0_rect`` (3x3 rectifying rotation), ``Tr_velo_to_cam`` and ``Tr_imu_to_velo`` (3x4 rigid transforms) and, in
the road benchmark only, ``Tr_cam_to_road`` (3x4, camera to the road frame: X right, Y down, Z forward, the road
plane at Y = 0). A raw recording keeps two files per date folder (:func:`read_raw_calib`). Painting needs only
``P2``, ``R0_rect`` and ``Tr_velo_to_cam``; the road benchmark's bird's-eye view also needs ``Tr_cam_to_road``.

Pixel coordinates are KITTI's: ``u`` to the right and ``v`` down, pixel centres at integers from 0.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

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
REQUIRED = ("P2", "R0_rect", "Tr_velo_to_cam")
# A raw recording's date folder: the rectified cameras' projections and rotation, and the Velodyne's pose.
RAW_CAM_TO_CAM, RAW_VELO_TO_CAM = "calib_cam_to_cam.txt", "calib_velo_to_cam.txt"


@dataclass(frozen=True)
class KittiCalib:
    """The matrices of one frame, float64, as shaped in :data:`SHAPES`; ``Tr_cam_to_road`` is None where the file
    has none (the object benchmark, raw recordings), and ``source`` names the file(s) it was read from."""

    P0: np.ndarray
    P1: np.ndarray
    P2: np.ndarray
    P3: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    Tr_imu_to_velo: np.ndarray
    Tr_cam_to_road: Optional[np.ndarray] = None
    source: str = ""


def to_homogeneous(matrix: np.ndarray) -> np.ndarray:
    """A 3x3 rotation or a 3x4 transform as the 4x4 matrix that acts on homogeneous points."""
    out = np.eye(4)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def read_entries(path, origin: str) -> dict:
    """``KEY: values`` lines of a KITTI calib file as {key: text}; ``origin`` says where such a file comes from."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"Cannot read calibration file '{path}' ({exc.strerror}). {origin}") from None
    entries = {}
    for line in text.splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        key, raw = line.split(":", 1)
        entries[key.strip()] = raw
    return entries


def matrix(entries: dict, key: str, shape: tuple, path) -> np.ndarray:
    """The float64 matrix of ``key`` (only the keys read are numbers: a raw file's ``calib_time`` is a date)."""
    try:
        values = np.array(entries[key].split(), np.float64)
    except ValueError:
        raise UserError(f"Calibration file '{path}': the values of '{key}' are not numbers.") from None
    if values.size != shape[0] * shape[1]:
        raise UserError(
            f"Calibration file '{path}': '{key}' has {values.size} values, expected {shape[0] * shape[1]} "
            f"({shape[0]}x{shape[1]})."
        )
    return values.reshape(shape)


def read_calib(path) -> KittiCalib:
    """Parses a road or object benchmark ``calib/<name>.txt``; a missing key or a wrong count is a UserError naming
    both. P0, P1, P3 and Tr_imu_to_velo, which nothing here needs, default to identities; Tr_cam_to_road to None."""
    entries = read_entries(path, "It comes with data_road.zip or data_object_calib.zip as <split>/calib/<name>.txt.")
    missing = [k for k in REQUIRED if k not in entries]
    if missing:
        raise UserError(
            f"Calibration file '{path}' lacks {', '.join(missing)}; painting needs {', '.join(REQUIRED)}, which the "
            "calib/<name>.txt files of KITTI's road and object benchmarks hold."
        )
    matrices = {key: matrix(entries, key, shape, path) for key, shape in SHAPES.items() if key in entries}
    identities = {key: np.eye(*shape) for key, shape in SHAPES.items() if key != "Tr_cam_to_road"}
    return KittiCalib(**{**identities, **matrices}, source=str(path))


def read_raw_calib(date_folder) -> KittiCalib:
    """A raw recording's calibration from its date folder: ``calib_cam_to_cam.txt`` gives ``P_rect_00``..``03``
    (as P0..P3) and ``R_rect_00`` (as R0_rect), ``calib_velo_to_cam.txt`` gives ``R`` and ``T`` (Tr_velo_to_cam =
    [R | T]). There is no Tr_cam_to_road."""
    folder = Path(date_folder)
    origin = (
        f"It comes with the date's calibration zip (<date>_calib.zip) as <date>/{RAW_CAM_TO_CAM} and {RAW_VELO_TO_CAM}."
    )
    cam_path, velo_path = folder / RAW_CAM_TO_CAM, folder / RAW_VELO_TO_CAM
    cams, velo = read_entries(cam_path, origin), read_entries(velo_path, origin)
    for path, entries, keys in ((cam_path, cams, ("P_rect_02", "R_rect_00")), (velo_path, velo, ("R", "T"))):
        missing = [k for k in keys if k not in entries]
        if missing:
            raise UserError(
                f"Calibration file '{path}' lacks {', '.join(missing)}; painting a raw recording needs P_rect_02 and "
                f"R_rect_00 from {RAW_CAM_TO_CAM} and R and T from {RAW_VELO_TO_CAM}."
            )
    projections = {
        f"P{i}": matrix(cams, f"P_rect_0{i}", (3, 4), cam_path) if f"P_rect_0{i}" in cams else np.eye(3, 4)
        for i in range(4)
    }
    return KittiCalib(
        **projections,
        R0_rect=matrix(cams, "R_rect_00", (3, 3), cam_path),
        Tr_velo_to_cam=np.hstack([matrix(velo, "R", (3, 3), velo_path), matrix(velo, "T", (3, 1), velo_path)]),
        Tr_imu_to_velo=np.eye(3, 4),
        source=f"{cam_path} and {velo_path}",
    )


def format_calib(calib: KittiCalib) -> str:
    """The file text, in KITTI's own layout: one ``KEY: `` line per matrix, values in %.12e, single spaces; without
    a Tr_cam_to_road line where there is none (the object benchmark's files)."""
    return "".join(
        f"{key}: " + " ".join(f"{v:.12e}" for v in getattr(calib, key).ravel()) + "\n"
        for key in SHAPES
        if getattr(calib, key) is not None
    )


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
    if calib.Tr_cam_to_road is None:
        raise UserError(
            f"{where(calib)} lacks Tr_cam_to_road, which the road benchmark's bird's-eye view needs (data_road's "
            "calib files have it; the object benchmark's and raw recordings' do not): use data_road's calib/ for the "
            "BEV results. Painting needs only P2, R0_rect and Tr_velo_to_cam."
        )
    full = calib.P2 @ to_homogeneous(calib.R0_rect) @ np.linalg.inv(to_homogeneous(calib.Tr_cam_to_road))
    return full[:, [0, 2, 3]]


def where(calib: KittiCalib) -> str:
    """The calibration's file(s), for a message."""
    return f"Calibration '{calib.source}'" if calib.source else "The calibration"


def calib_path_for(image_path) -> Path:
    """<split>/image_2/<name>.png -> <split>/calib/<name>.txt (the road and the object benchmark alike)."""
    image_path = Path(image_path)
    return image_path.parent.parent / "calib" / f"{image_path.stem}.txt"
