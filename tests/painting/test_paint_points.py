"""paint_points.py end to end: a Cityscapes-trained model paints the sample's KITTI frames."""

import json

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from conftest import copy_run

import paint_points
from utils.config.errors import EXIT_USER_ERROR
from utils.data.kitti_calib import read_calib
from utils.painting.point_files import read_scan


@pytest.fixture(scope="module")
def categories_run(tiny_run, tmp_path_factory):
    """A copy of the session's tiny run (8 categories): painting writes into the run folder."""
    return copy_run(tiny_run, tmp_path_factory.mktemp("paint_run") / "run")


def paint(run, *extra):
    argv = [
        "--config_path",
        "configs/quickstart.yaml",
        "--checkpoint",
        str(run / "best.pth"),
        "--set",
        f"paths.output_dir={run}",
        "eval.num_workers=0",
        "eval.device=cpu",
        *extra,
    ]
    return paint_points.main(argv)


def by_hand_in_image(scan, calib, height, width):
    """P2 · R0_rect · Tr_velo_to_cam written out with 4x4 matrices; front = positive camera depth."""
    r0 = np.eye(4)
    r0[:3, :3] = calib.R0_rect
    tr = np.vstack([calib.Tr_velo_to_cam, [0, 0, 0, 1]])
    cam = (r0 @ tr @ np.c_[scan[:, :3], np.ones(len(scan))].T).T
    x = (calib.P2 @ cam.T).T
    u, v = x[:, 0] / x[:, 2], x[:, 1] / x[:, 2]
    return (
        (cam[:, 2] > 0)
        & (np.floor(u + 0.5) >= 0)
        & (np.floor(u + 0.5) < width)
        & (np.floor(v + 0.5) >= 0)
        & (np.floor(v + 0.5) < height)
    )


def test_paints_every_frame_and_writes_kitti_formats(categories_run, sample_root):
    out = categories_run / "paint"
    assert paint(categories_run, f"paint.root={sample_root / 'kitti'}", "paint.max_pictures=2", "paint.video=true") == 0
    metrics = json.loads((out / "paint_metrics.json").read_text())
    training = sample_root / "kitti" / "data_road" / "training"
    assert metrics["frames"] == 9 and len(metrics["per_frame"]) == 9
    for record in metrics["per_frame"]:
        name = record["frame"]
        scan = read_scan(training / "velodyne" / f"{name}.bin")
        height, width = cv2.imread(str(training / "image_2" / f"{name}.png")).shape[:2]
        inside = by_hand_in_image(scan, read_calib(training / "calib" / f"{name}.txt"), height, width)
        painted = np.fromfile(out / "painted" / f"{name}.bin", np.float32).reshape(-1, 4 + 8)
        assert record["painted"] == len(painted) == inside.sum() and record["points"] == len(scan)
        assert np.array_equal(painted[:, :4], scan[inside])  # x, y, z, reflectance, then the 8 class scores
        assert painted[:, 4:].min() >= 0 and painted[:, 4:].max() <= 1
        labels = np.fromfile(out / "labels" / f"{name}.label", np.uint32)
        assert np.array_equal(labels, painted[:, 4:].argmax(1))
        ply = (out / "ply" / f"{name}.ply").read_bytes()
        header = ply[: ply.index(b"end_header\n")].decode()
        assert f"element vertex {len(painted)}" in header and len(ply) - len(header) - len("end_header\n") == 15 * len(
            painted
        )
        clusters = json.loads((out / "clusters" / f"{name}.json").read_text())
        assert {"frame", "ground_points", "clusters"} == set(clusters)
        for c in clusters["clusters"]:
            assert (
                c["class"] in ("human", "vehicle")
                and c["points"] >= 5
                and all(lo <= m <= hi for lo, m, hi in zip(c["box_min"], c["centroid"], c["box_max"]))
            )
    assert {
        "point_accuracy",
        "point_miou",
        "per_class",
        "cluster_recall",
        "objects",
        "objects_found",
        "ms_per_frame",
    } <= set(metrics)
    assert (
        0 <= metrics["point_accuracy"] <= 1
        and metrics["objects"] > 0
        and metrics["ms_per_frame"]["painting_median"] > 0
    )
    assert len(list((out / "pictures").glob("*.png"))) == 4  # camera and bird's-eye view, for two frames
    assert imageio_ffmpeg.count_frames_and_secs(str(out / "painted_points.mp4"))[0] == 9


def test_clear_errors(categories_run, sample_root, tmp_path, capsys):
    # paths.output_dir: the copy's checkpoint still names the shared run, where paint would create its folders.
    argv = [
        "--checkpoint",
        str(categories_run / "best.pth"),
        "--set",
        f"paths.output_dir={categories_run}",
        "eval.device=cpu",
    ]
    assert paint_points.run_main(paint_points.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert (
        "(paths.root, as paint.root is null) holds none of the three KITTI layouts" in err and "Set paint.root" in err
    )
    argv += [f"paint.root={sample_root / 'kitti'}"]
    assert paint_points.run_main(paint_points.main, [*argv, "paint.object_classes=[cars]"]) == EXIT_USER_ERROR
    assert "paint.object_classes names ['cars']" in capsys.readouterr().err
    images = tmp_path / "data_road" / "training" / "image_2"
    images.parent.mkdir(parents=True)
    images.symlink_to(sample_root / "kitti" / "data_road" / "training" / "image_2")
    assert paint_points.run_main(paint_points.main, [*argv[:-1], f"paint.root={tmp_path}"]) == EXIT_USER_ERROR
    assert "data_road_velodyne.zip" in capsys.readouterr().err


def test_a_cityscapes_model_paints_frames_named_by_a_kitti_config(categories_run, sample_root, tmp_path):
    # The KITTI config's target and root say where the frames are; the classes stay the checkpoint's.
    out = tmp_path / "painted"
    argv = [
        "--config_path",
        "configs/kitti_road_fpn.yaml",
        "--checkpoint",
        str(categories_run / "best.pth"),
        "--set",
        "target=kitti",
        f"paths.root={sample_root / 'kitti'}",
    ]
    argv += [
        f"paint.output_dir={out}",
        "paint.split=testing",
        "paint.max_pictures=0",
        "eval.num_workers=0",
        "eval.device=cpu",
        "eval.drop_clusters=0",
    ]
    assert paint_points.main(argv) == 0
    metrics = json.loads((out / "paint_metrics.json").read_text())
    assert metrics["frames"] == 3 and len(list((out / "painted").glob("*.bin"))) == 3
    assert (
        np.fromfile(next((out / "painted").glob("*.bin")), np.float32).size % (4 + 8) == 0
    )  # x, y, z, r + the 8 categories
