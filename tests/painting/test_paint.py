"""Painting on hand-made calibrations and on the sample's scans, with the true labels as the oracle."""

import cv2
import numpy as np
import pytest
from conftest import SMALL

from utils.config.loading import config_from_dict
from utils.data.families import build_labels, dataset_family
from utils.data.kitti_calib import KittiCalib
from utils.painting.clusters import cluster_objects, object_class_indices
from utils.painting.layouts import find_frames
from utils.painting.paint import paint_scan
from utils.painting.point_files import read_point_labels, read_scan
from utils.painting.scoring import PaintScorer, truth_table
from utils.sample_data import lidar
from utils.sample_data.calib import VELO_AXES
from utils.sample_data.generate import _seed
from utils.sample_data.street import make_street, render

F, CX, CY = 500.0, 320.0, 100.0


def hand_calib() -> KittiCalib:
    p = np.array([[F, 0, CX, 0], [0, F, CY, 0], [0, 0, 1.0, 0]])
    rigid = np.hstack([VELO_AXES, [[0.0], [0.2], [0.0]]])  # the camera 0.2 m below the Velodyne
    eye = np.hstack([np.eye(3), np.zeros((3, 1))])
    return KittiCalib(
        P0=p, P1=p, P2=p, P3=p, R0_rect=np.eye(3), Tr_velo_to_cam=rigid, Tr_imu_to_velo=eye, Tr_cam_to_road=eye
    )


def test_each_point_takes_the_scores_of_its_pixel():
    h, w = 200, 640
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    scores = np.stack([rows, cols, rows * 0 + 0.5])  # (3, H, W): the scores say which pixel they came from
    points = np.array(
        [
            [10.0, 0.0, 0.2, 0.1],  # straight ahead: u = 320, v = 100
            [10.0, -2.0, 1.2, 0.2],  # 2 m right, 1 m above the camera: u = 420, v = 50
            [5.0, 0.0, -0.8, 0.3],  # 1 m below the camera, 5 m ahead: v = 200 is one row past the image
            [-10.0, 0.0, 0.2, 0.4],  # behind: never painted
            [10.0, 7.0, 0.2, 0.5],  # 7 m left at 10 m: u = -30, outside
        ],
        np.float32,
    )
    painted = paint_scan(points, scores, hand_calib())
    assert painted.index.tolist() == [0, 1]
    assert painted.points.shape == (2, 7) and painted.points.dtype == np.float32
    assert np.array_equal(painted.points[:, :4], points[:2])
    assert painted.points[:, 4:6].tolist() == [[100, 320], [50, 420]] and painted.pixels.tolist() == [
        [100, 320],
        [50, 420],
    ]
    assert painted.classes.tolist() == [1, 1]  # argmax of (row, col, 0.5): the column is larger


def test_painted_count_is_every_point_in_front_and_inside():
    rng = np.random.default_rng(1)
    points = rng.uniform([-30, -30, -3, 0], [60, 30, 3, 1], (20000, 4)).astype(np.float32)
    painted = paint_scan(points, np.zeros((2, 200, 640), np.float32), hand_calib())
    cam = points[:, :3] @ VELO_AXES.T + [0.0, 0.2, 0.0]  # by hand: camera x right, y down, z forward
    u, v = CX + F * cam[:, 0] / cam[:, 2], CY + F * cam[:, 1] / cam[:, 2]
    inside = (cam[:, 2] > 0) & (np.round(u) >= 0) & (np.round(u) <= 639) & (np.round(v) >= 0) & (np.round(v) <= 199)
    assert painted.index.tolist() == np.flatnonzero(inside).tolist()


def test_scorer_counts_an_object_found_within_a_metre():
    names = ["road", "car"]
    truth = np.array([7, 7] + [26 | (1 << 16)] * 10 + [26 | (2 << 16)] * 10, np.uint32)  # road, car #1, car #2
    xyz = np.zeros((22, 3))
    xyz[2:12] = [10.0, 0.0, 0.0]
    xyz[12:] = [20.0, 5.0, 0.0]
    lut = np.zeros(256, np.uint8)
    lut[26] = 1  # label id 26 (car) is class 1, everything else class 0
    scorer = PaintScorer(names, lut, [1])
    clusters = [{"class_index": 1, "centroid": [10.5, 0.5, 0.5]}, {"class_index": 1, "centroid": [21.5, 5.0, 0.0]}]
    scorer.update(np.arange(22), xyz, np.array([0, 1] + [1] * 20), truth, clusters)
    m = scorer.compute()
    assert (m["objects"], m["objects_found"]) == (2, 1)  # 0.87 m away is found, 1.5 m is not
    assert m["point_accuracy"] == pytest.approx(21 / 22) and m["per_class"]["road"]["iou"] == pytest.approx(0.5)


def test_ray_culling_equals_testing_every_ray(monkeypatch):
    monkeypatch.setattr(lidar, "AZIMUTH_STEP", 1.0)
    street = make_street(np.random.default_rng(3), 375, 1242, "umm")
    culled = lidar.scan(street, np.random.default_rng(0))
    monkeypatch.setattr(lidar, "_footprint", lambda origin, box, azimuths: (slice(0, 64), np.arange(len(azimuths))))
    every = lidar.scan(street, np.random.default_rng(0))
    assert np.array_equal(culled[1], every[1]) and np.array_equal(culled[0], every[0])


def test_sample_scans_look_like_kitti(sample_root):
    found = find_frames(sample_root / "kitti", "training")
    frames = found.frames
    assert found.layout == "road" and len(frames) == 9 and not found.missing and all(f.truth for f in frames)
    scan = read_scan(frames[0].velodyne)
    elevation = np.degrees(np.arctan2(scan[:, 2], np.hypot(scan[:, 0], scan[:, 1])))
    assert 150_000 < len(scan) < 290_000 and elevation.min() > -25.5 and elevation.max() < 2.5
    ground = scan[(read_point_labels(frames[0].truth, len(scan)) & 0xFFFF) == 7]
    assert np.median(ground[:, 2]) == pytest.approx(-1.73, abs=0.02)  # the road, 1.73 m under the sensor


def test_painting_with_the_true_image_labels_recovers_the_true_point_labels(sample_root):
    """The oracle: paint each scan with the label image its frame was rendered from. The sample's LiDAR,
    calib and renderer agree, so the points get their own labels back (up to object borders) and the
    clusters find the objects."""
    labels = build_labels("cityscapes", "categories")
    names = list(labels.names)
    objects = object_class_indices(names)
    scorer = PaintScorer(
        names, truth_table(dataset_family(config_from_dict({}, ["dataset.labels=categories"])), labels), objects
    )
    frames = find_frames(sample_root / "kitti", "training").frames
    for frame in frames[::3]:
        category, index = frame.name.split("_")
        h, w = cv2.imread(str(frame.image)).shape[:2]
        classes = labels.encode(
            render(make_street(_seed(SMALL, "training", category, int(index)), h, w, category), h, w).label_ids
        )
        scores = (classes[None] == np.arange(len(names))[:, None, None]).astype(np.float32)
        scan = read_scan(frame.velodyne)
        painted = paint_scan(scan, scores, frame.calib)
        clusters = cluster_objects(painted.points[:, :3], painted.classes, objects, names, eps=0.5, min_samples=5)
        scorer.update(
            painted.index, painted.points[:, :3], painted.classes, read_point_labels(frame.truth, len(scan)), clusters
        )
    m = scorer.compute()
    assert m["point_accuracy"] > 0.9 and m["per_class"]["flat"]["iou"] > 0.95 and m["per_class"]["vehicle"]["iou"] > 0.8
    assert m["objects"] >= 5 and m["cluster_recall"] > 0.8
