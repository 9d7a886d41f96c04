"""The KITTI road devkit's bird's-eye view (its ``BirdsEyeView`` class, used by ``transform2BEV``).

The BEV is a metric grid on the road plane: 0.05 m cells, X from -10 to 10 m (columns, left to right)
and Z from 46 down to 6 m (rows, far at the top), so 800 rows x 400 columns. Each cell takes the value
of the image pixel its centre projects to, through ``P2 · R0_rect · inverse(Tr_cam_to_road)``; cells
that project outside the image stay 0 (black, i.e. "not valid" in a ground-truth image).

Like the devkit, cell centres are taken in float32, the projected (u, v) are read as 1-based
coordinates, kept when 1 <= u <= W and 1 <= v <= H, and truncated to pixel ``(int(v) - 1, int(u) - 1)``;
so a BEV written here is the one ``transform2BEV.py`` writes from the same PNG and calib file.
"""

from dataclasses import dataclass

import numpy as np

from utils.data.kitti_calib import KittiCalib, road_to_image_homography


@dataclass(frozen=True)
class BevGrid:
    res: float = 0.05
    x_range: tuple = (-10.0, 10.0)
    z_range: tuple = (6.0, 46.0)

    @property
    def shape(self) -> tuple:
        """(rows, cols): Z cells by X cells."""
        return round((self.z_range[1] - self.z_range[0]) / self.res), round(
            (self.x_range[1] - self.x_range[0]) / self.res
        )

    def centres(self) -> tuple:
        """(X of each column (cols,), Z of each row (rows,)), built as the devkit builds them."""
        rows, cols = self.shape
        x = np.arange(self.x_range[0] + self.res / 2, self.x_range[1], self.res)[:cols]
        z = np.arange(self.z_range[1] - self.res / 2, self.z_range[0], -self.res)[:rows]
        return x, z


@dataclass(frozen=True)
class BevLookup:
    """Which image pixel fills which BEV cell, for one calibration and image size.

    Attributes:
        cells: (K,) int64 flat indices into the (rows, cols) BEV grid.
        pixels: (K,) int64 flat indices into the (H, W) image.
        grid: the grid.
    """

    cells: np.ndarray
    pixels: np.ndarray
    grid: BevGrid


def bev_lookup(calib: KittiCalib, image_size, grid: BevGrid = BevGrid()) -> BevLookup:
    """The lookup table for images of ``image_size`` (H, W) taken with ``calib``."""
    height, width = int(image_size[0]), int(image_size[1])
    x, z = grid.centres()
    xx, zz = np.meshgrid(x.astype(np.float32), z.astype(np.float32))  # (rows, cols)
    plane = np.stack([xx.ravel(), zz.ravel(), np.ones(xx.size, np.float32)]).astype(np.float64)
    uvw = road_to_image_homography(calib) @ plane
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = uvw[0] / uvw[2], uvw[1] / uvw[2]
    valid = (v >= 1) & (u >= 1) & (v <= height) & (u <= width)
    cells = np.flatnonzero(valid)
    rows, cols = v[valid].astype(np.int64) - 1, u[valid].astype(np.int64) - 1
    return BevLookup(cells, rows * width + cols, grid)


def to_bev(image: np.ndarray, lookup: BevLookup, fill=0) -> np.ndarray:
    """(H, W) or (H, W, C) image -> (rows, cols) or (rows, cols, C) BEV of the same dtype.

    ``fill`` goes where no pixel projects: 0 as the devkit writes, or the ignore index for decoded
    ground truth.
    """
    rows, cols = lookup.grid.shape
    flat = image.reshape(image.shape[0] * image.shape[1], -1)
    out = np.full((rows * cols, flat.shape[1]), fill, image.dtype)
    out[lookup.cells] = flat[lookup.pixels]
    return out.reshape((rows, cols) + image.shape[2:])
