"""KITTI calibration consistent with the sample's pinhole camera (``scene.Camera``).

Frames, in metres. World (the scene's): X right, Y up from the road, Z forward; the colour camera
(KITTI's camera 2) sits at (0, camera_height, 0) looking along Z. Its image point is
``K · (X, camera_height - Y, Z)`` with ``K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]``, which is exactly
how ``scene.Camera.project`` renders. KITTI's rectified frame is camera 0's, so ``P2 = K · [I | t2]``
(camera 2 sits ``t2`` beside camera 0), and the unrectified camera frame is turned by a small
``R0_rect``. The road frame is the camera-2 frame dropped by camera_height (X right, Y down, Z forward,
road plane Y = 0); the Velodyne (x forward, y left, z up) sits VELO_HEIGHT above the road and
VELO_BEHIND metres behind the camera, as on KITTI's car.
"""

import numpy as np

from utils.data.kitti_calib import KittiCalib

VELO_HEIGHT = 1.73
VELO_BEHIND = 0.27
# Camera 2 relative to camera 0, and cameras 1 and 3, in the rectified frame (KITTI's rig, rounded).
T_CAM = {0: (0.0, 0.0, 0.0), 1: (-0.537, 0.0, 0.0), 2: (0.06, 0.0, 0.0027), 3: (-0.47, 0.003, 0.0027)}
TR_IMU_TO_VELO = np.array([[1.0, 0.0, 0.0, -0.81], [0.0, 1.0, 0.0, 0.32], [0.0, 0.0, 1.0, -0.80]])
# Velodyne axes to camera axes: x_cam = -y_velo, y_cam = -z_velo, z_cam = x_velo.
VELO_AXES = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def small_rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rz · Ry · Rx for angles in degrees."""
    a, b, c = np.radians([rx, ry, rz])
    rot_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rot_y = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rot_z = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rot_z @ rot_y @ rot_x


R0_RECT = small_rotation(0.25, -0.43, 0.56)  # about KITTI's size of rectifying rotation


def sample_calib(focal: float, cx: float, cy: float, camera_height: float) -> KittiCalib:
    """The calib file of a frame rendered by ``scene.Camera(focal, horizon=cy, center_x=cx, camera_height)``."""
    k = np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])
    projections = {f"P{i}": k @ np.hstack([np.eye(3), np.array(t)[:, None]]) for i, t in T_CAM.items()}
    t2 = np.array(T_CAM[2])
    # camera 2 = rectified + t2 and rectified = R0_rect · camera; the road frame is camera 2 shifted up.
    cam_to_road = np.hstack([R0_RECT, (t2 - [0.0, camera_height, 0.0])[:, None]])
    velo_in_cam2 = np.array([0.0, camera_height - VELO_HEIGHT, -VELO_BEHIND])
    velo_to_cam = np.hstack([R0_RECT.T @ VELO_AXES, (R0_RECT.T @ (velo_in_cam2 - t2))[:, None]])
    return KittiCalib(
        **projections,
        R0_rect=R0_RECT,
        Tr_velo_to_cam=velo_to_cam,
        Tr_imu_to_velo=TR_IMU_TO_VELO,
        Tr_cam_to_road=cam_to_road,
    )
