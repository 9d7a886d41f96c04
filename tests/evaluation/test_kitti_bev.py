"""The devkit's bird's-eye view on hand-made calibrations whose answers are known."""

import numpy as np
import pytest

from utils.data.kitti_calib import KittiCalib
from utils.evaluation.kitti_bev import BevGrid, bev_lookup, to_bev
from utils.sample_data.calib import small_rotation

F, CX, CY, H = 700.0, 600.0, 180.0, 1.65  # focal, principal point, camera height above the road
SIZE = (375, 1242)


def make_calib(cx, cy, r0=np.eye(3), cam_to_road=None) -> KittiCalib:
    """P2 = K [I | 0]; the road frame is the camera's dropped by H unless ``cam_to_road`` says otherwise."""
    p = np.array([[F, 0, cx, 0], [0, F, cy, 0], [0, 0, 1.0, 0]])
    rigid = np.hstack([np.eye(3), np.zeros((3, 1))])
    cam_to_road = np.hstack([np.eye(3), [[0.0], [-H], [0.0]]]) if cam_to_road is None else cam_to_road
    return KittiCalib(
        P0=p, P1=p, P2=p, P3=p, R0_rect=r0, Tr_velo_to_cam=rigid, Tr_imu_to_velo=rigid, Tr_cam_to_road=cam_to_road
    )


def coordinate_images():
    rows, cols = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    return rows.astype(np.uint16), cols.astype(np.uint16)


def test_grid_is_the_devkits():
    grid = BevGrid()
    assert grid.shape == (800, 400)
    x, z = grid.centres()
    assert (
        x[0] == pytest.approx(-9.975)
        and x[-1] == pytest.approx(9.975)
        and z[0] == pytest.approx(45.975)
        and z[-1] == pytest.approx(6.025)
    )


def test_cells_take_the_pixel_their_centre_projects_to():
    lookup = bev_lookup(make_calib(CX, CY), SIZE)
    rows, cols = (to_bev(img, lookup, fill=9999) for img in coordinate_images())
    # Hand-computed: the nearest cell on the axis, X = 0.025, Z = 6.025 m, is seen at
    # u = 600 + 700 * 0.025 / 6.025 = 602.90, v = 180 + 700 * 1.65 / 6.025 = 371.70, which the devkit
    # reads as 1-based and truncates: pixel (370, 601).
    assert (rows[799, 200], cols[799, 200]) == (370, 601)
    # 20 m ahead and 2 m to the left (X = -1.975, Z = 19.975): u = 530.79, v = 237.82 -> (236, 529).
    assert (rows[520, 160], cols[520, 160]) == (236, 529)
    # Every cell, by the pinhole formula on the float32 cell centres the devkit uses.
    x, z = (c.astype(np.float32).astype(np.float64) for c in BevGrid().centres())
    u, v = CX + F * x[None, :] / z[:, None], CY + F * H / z[:, None] + 0 * x[None, :]
    inside = (u >= 1) & (u <= SIZE[1]) & (v >= 1) & (v <= SIZE[0])
    assert np.array_equal(rows[inside], v[inside].astype(int) - 1) and np.array_equal(
        cols[inside], u[inside].astype(int) - 1
    )
    assert (rows[~inside] == 9999).all() and (~inside).sum() > 1000  # the near corners fall outside the image
    colour = np.stack([np.full(SIZE, 7, np.uint8), np.full(SIZE, 8, np.uint8), np.full(SIZE, 9, np.uint8)], -1)
    bev = to_bev(colour, lookup)
    assert bev.shape == (800, 400, 3) and (bev[inside] == [7, 8, 9]).all() and (bev[~inside] == 0).all()


def test_rectification_and_road_frame_are_applied():
    # The same road seen through a rotated R0_rect, undone by Tr_cam_to_road, gives the same BEV.
    r0 = small_rotation(1.0, -2.0, 0.5)
    turned = make_calib(CX, CY, r0=r0, cam_to_road=np.hstack([r0, [[0.0], [-H], [0.0]]]))
    rows, _ = coordinate_images()
    plain, rotated = (to_bev(rows, bev_lookup(c, SIZE)) for c in (make_calib(CX, CY), turned))
    assert (plain == rotated).mean() > 0.999  # only truncation at a few pixel borders may differ
    ignoring_r0 = to_bev(rows, bev_lookup(make_calib(CX, CY, cam_to_road=turned.Tr_cam_to_road), SIZE))
    assert (plain == ignoring_r0).mean() < 0.5
    # A camera 1 m higher sees the same road cell lower in the image.
    higher = to_bev(
        rows, bev_lookup(make_calib(CX, CY, cam_to_road=np.hstack([np.eye(3), [[0.0], [-H - 1.0], [0.0]]])), SIZE)
    )
    assert higher[400, 200] > plain[400, 200]
