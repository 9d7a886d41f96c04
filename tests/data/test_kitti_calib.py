"""The calib reader and the LiDAR projection, on hand-made calibrations whose answers are known."""

import numpy as np
import pytest

from utils.config.errors import UserError
from utils.data.kitti_calib import SHAPES, KittiCalib, format_calib, in_image, pixel_index, project_velo, read_calib
from utils.sample_data.calib import VELO_AXES, small_rotation

F, CX, CY = 700.0, 620.0, 180.0
K = np.array([[F, 0, CX], [0, F, CY], [0, 0, 1.0]])


def make_calib(r0=np.eye(3), velo_to_cam=None, cam_to_road=None) -> KittiCalib:
    p = K @ np.hstack([np.eye(3), np.zeros((3, 1))])
    velo_to_cam = np.hstack([VELO_AXES, np.zeros((3, 1))]) if velo_to_cam is None else velo_to_cam
    cam_to_road = np.hstack([np.eye(3), [[0.0], [-1.65], [0.0]]]) if cam_to_road is None else cam_to_road
    return KittiCalib(
        P0=p,
        P1=p,
        P2=p,
        P3=p,
        R0_rect=r0,
        Tr_velo_to_cam=velo_to_cam,
        Tr_imu_to_velo=np.hstack([np.eye(3), np.zeros((3, 1))]),
        Tr_cam_to_road=cam_to_road,
    )


def test_file_round_trip_in_kitti_layout(tmp_path):
    calib = make_calib(r0=small_rotation(1, 2, 3))
    path = tmp_path / "um_000000.txt"
    path.write_text(format_calib(calib))
    lines = path.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == list(SHAPES)
    assert lines[0].startswith(
        "P0: 7.000000000000e+02 0.000000000000e+00 6.200000000000e+02 "
    )  # KITTI's own number format
    back = read_calib(path)
    for key in SHAPES:
        assert np.allclose(getattr(back, key), getattr(calib, key), rtol=1e-12, atol=1e-15), key


def test_bad_files_are_clear_errors(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("P2: 1 2 3\n")
    with pytest.raises(UserError, match="lacks R0_rect, Tr_velo_to_cam; painting needs P2, R0_rect, Tr_velo_to_cam"):
        read_calib(path)
    path.write_text(format_calib(make_calib()).replace("R0_rect: 1.000000000000e+00 ", "R0_rect: "))
    with pytest.raises(UserError, match="'R0_rect' has 8 values, expected 9"):
        read_calib(path)
    with pytest.raises(UserError, match="Cannot read calibration file"):
        read_calib(tmp_path / "missing.txt")


def test_points_placed_by_hand_land_on_known_pixels():
    calib = make_calib()
    # Velodyne x forward, y left, z up: 10 m ahead is the principal point; 2 m right and 1 m up of it
    # is u = cx + f * 2/10, v = cy - f * 1/10; a point behind the car has negative depth.
    points = np.array(
        [[10.0, 0.0, 0.0, 0.3], [10.0, -2.0, 1.0, 0.5], [20.0, 4.0, -1.65, 0.1], [-5.0, 0.0, 0.0, 0.9]], np.float32
    )
    uv, depth = project_velo(points, calib)
    assert uv[:3] == pytest.approx(
        np.array([[CX, CY], [CX + F * 0.2, CY - F * 0.1], [CX - F * 0.2, CY + F * 1.65 / 20]])
    )
    assert depth == pytest.approx([10.0, 10.0, 20.0, -5.0])
    assert in_image(uv, depth, 375, 1242).tolist() == [True, True, True, False]
    rows, cols = pixel_index(uv[:3])
    assert rows.tolist() == [180, 110, 238] and cols.tolist() == [620, 760, 480]


def test_rectification_and_extrinsics_are_applied():
    # The same physical rig described with a rotated R0_rect and a translated Velodyne: pixels must not move.
    r0 = small_rotation(2.0, -3.0, 1.5)
    shift = np.array([0.1, -0.2, 0.3])  # the Velodyne origin, in camera coordinates
    velo_to_cam = np.hstack([r0.T @ VELO_AXES, (r0.T @ shift)[:, None]])
    points = np.random.default_rng(0).uniform([2, -10, -2], [60, 10, 3], (500, 3))
    uv, depth = project_velo(points, make_calib(r0=r0, velo_to_cam=velo_to_cam))
    cam = points @ VELO_AXES.T + shift
    expected = (cam @ K.T)[:, :2] / cam[:, 2:3]
    assert np.allclose(uv, expected) and np.allclose(depth, cam[:, 2])
    assert not np.allclose(
        project_velo(points, make_calib(velo_to_cam=velo_to_cam))[0], expected, atol=1.0
    )  # without R0_rect they differ


def test_edges_of_the_image():
    uv = np.array([[-0.5, 0.0], [-0.51, 0.0], [1241.49, 374.49], [1241.5, 0.0], [0.0, 374.5]])
    assert in_image(uv, np.ones(5), 375, 1242).tolist() == [True, False, True, False, False]
