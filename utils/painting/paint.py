"""Painting one scan: every point in front of the camera and inside the image takes the class scores at its pixel."""

from dataclasses import dataclass

import numpy as np

from utils.data.kitti_calib import KittiCalib, points_in_image


@dataclass(frozen=True)
class Painted:
    """A painted scan.

    Attributes:
        index: (M,) int64 rows of the scan that were painted (in front of the camera, inside the image).
        points: (M, 4 + C) float32 x, y, z, reflectance, then the C class scores: PointPainting's layout.
        classes: (M,) uint8 predicted class per painted point.
        pixels: (M, 2) int64 (row, col) each point was painted from.
    """

    index: np.ndarray
    points: np.ndarray
    classes: np.ndarray
    pixels: np.ndarray


def paint_scan(scan: np.ndarray, scores: np.ndarray, calib: KittiCalib) -> Painted:
    """Projects with ``P2 · R0_rect · Tr_velo_to_cam`` and reads each point's pixel (nearest pixel centre).

    Args:
        scan: (N, 4) float32 Velodyne points.
        scores: (C, H, W) float32 class probabilities at the image's full resolution.
        calib: the frame's calibration.
    """
    index, rows, cols = points_in_image(scan, calib, scores.shape[1], scores.shape[2])
    point_scores = scores[:, rows, cols]  # (C, M): one gather, no loop over points
    painted = np.empty((len(index), 4 + scores.shape[0]), np.float32)
    painted[:, :4] = scan[index]
    painted[:, 4:] = point_scores.T
    return Painted(index, painted, point_scores.argmax(0).astype(np.uint8), np.stack([rows, cols], 1))
