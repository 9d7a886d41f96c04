"""paint_points.py beyond the road benchmark: the sample's object-benchmark folder end to end against the true point
labels, and the same frames laid out as the road benchmark, the object benchmark and a raw recording painting alike."""

import json
import logging
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import SMALL, copy_run
from test_paint_points import by_hand_in_image

import paint_points
from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.config.loading import config_from_dict
from utils.data.families import build_labels, dataset_family
from utils.data.kitti_calib import read_calib
from utils.evaluation.kitti_results import KittiResults
from utils.painting.layouts import find_frames, find_layout
from utils.painting.paint import paint_scan
from utils.painting.point_files import read_point_labels, read_scan
from utils.painting.scoring import PaintScorer, truth_table
from utils.sample_data.generate import _seed
from utils.sample_data.layouts.kitti_object import street_kind
from utils.sample_data.street import make_street, render

# Two road sample frames of one size: the first frame's size sets the inference size, so every layout predicts alike.
FRAMES = ("um_000000", "uu_000002")
PARTS = (("image_2", ".png"), ("velodyne", ".bin"), ("velodyne_labels", ".label"))


@pytest.fixture(scope="module")
def categories_run(tiny_run, tmp_path_factory):
    return copy_run(tiny_run, tmp_path_factory.mktemp("paint_layouts") / "run")


def paint(run, root, out, *extra):
    argv = ["--config_path", "configs/quickstart.yaml", "--checkpoint", str(run / "best.pth"), "--set"]
    argv += [f"paths.output_dir={run}", f"paint.root={root}", f"paint.output_dir={out}", "paint.max_pictures=0"]
    return paint_points.main([*argv, "eval.num_workers=0", "eval.device=cpu", *extra])


def link(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)


def calib_entries(path) -> dict:
    """A calib file's tokens by key, read by hand."""
    return {k.strip(): v.split() for k, v in (line.split(":", 1) for line in path.read_text().splitlines() if line)}


def road_layout(training, out):
    for name in FRAMES:
        for folder, suffix in (*PARTS, ("calib", ".txt")):
            link(training / folder / f"{name}{suffix}", out / "data_road" / "training" / folder / f"{name}{suffix}")
    return out


def object_layout(training, out):
    """The frames renamed 000000, 000001, their calib files in the object benchmark's form: no Tr_cam_to_road."""
    for k, name in enumerate(FRAMES):
        for folder, suffix in PARTS:
            link(training / folder / f"{name}{suffix}", out / "training" / folder / f"{k:06d}{suffix}")
        lines = (training / "calib" / f"{name}.txt").read_text().splitlines()
        (out / "training" / "calib").mkdir(exist_ok=True)
        kept = [line for line in lines if not line.startswith("Tr_cam_to_road")]
        (out / "training" / "calib" / f"{k:06d}.txt").write_text("\n".join(kept) + "\n\n")
    return out


def raw_layout(training, out):
    """One date folder per frame (each sample frame has its own calibration), its drive holding it as frame 0, and
    the date's calib_cam_to_cam.txt and calib_velo_to_cam.txt written as KITTI writes them."""
    for k, name in enumerate(FRAMES):
        date = f"2011_09_{26 + k}"
        drive = out / date / f"{date}_drive_{k + 1:04d}_sync"
        link(training / "image_2" / f"{name}.png", drive / "image_02" / "data" / "0000000000.png")
        link(training / "velodyne" / f"{name}.bin", drive / "velodyne_points" / "data" / "0000000000.bin")
        link(training / "velodyne_labels" / f"{name}.label", drive / "velodyne_labels" / "data" / "0000000000.label")
        m = calib_entries(training / "calib" / f"{name}.txt")
        cams = ["calib_time: 09-Jan-2012 13:57:47", "corner_dist: 9.950000e-02"]
        for i in range(4):
            cams += [f"S_0{i}: 1.392000e+03 5.120000e+02", f"D_0{i}: -3.7e-01 2.0e-01 1.4e-03 5.7e-04 -6.8e-02"]
            cams += [f"S_rect_0{i}: 1.242000e+03 3.750000e+02"]
            cams += [f"R_rect_0{i}: " + " ".join(m["R0_rect"] if i == 0 else "1 0 0 0 1 0 0 0 1".split())]
            cams += [f"P_rect_0{i}: " + " ".join(m[f"P{i}"])]
        tr = m["Tr_velo_to_cam"]
        velo = ["calib_time: 15-Mar-2012 11:37:16", "R: " + " ".join(tr[j] for j in (0, 1, 2, 4, 5, 6, 8, 9, 10))]
        velo += ["T: " + " ".join(tr[j] for j in (3, 7, 11)), "delta_f: 0 0", "delta_c: 0 0"]
        (out / date / "calib_cam_to_cam.txt").write_text("\n".join(cams) + "\n")
        (out / date / "calib_velo_to_cam.txt").write_text("\n".join(velo) + "\n")
    return out


def test_the_object_sample_paints_end_to_end_and_is_scored(categories_run, sample_root, tmp_path):
    root = sample_root / "kitti_object"
    assert paint(categories_run, root, tmp_path, "paint.split=testing", "paint.max_pictures=1") == 0
    metrics = json.loads((tmp_path / "paint_metrics.json").read_text())
    assert (metrics["layout"], metrics["split"], metrics["frames"]) == ("object", "testing", 2)
    assert 0 < metrics["point_accuracy"] <= 1 and metrics["objects"] > 0  # scored against the true point labels
    for record in metrics["per_frame"]:
        name = record["frame"]
        calib = calib_entries(root / "testing" / "calib" / f"{name}.txt")
        assert "Tr_cam_to_road" not in calib  # the object benchmark's calib files have none
        by_hand = SimpleNamespace(**{k: np.array(v, float).reshape(3, -1) for k, v in calib.items()})
        scan = read_scan(root / "testing" / "velodyne" / f"{name}.bin")
        height, width = cv2.imread(str(root / "testing" / "image_2" / f"{name}.png")).shape[:2]
        inside = by_hand_in_image(scan, by_hand, height, width)
        painted = np.fromfile(tmp_path / "painted" / f"{name}.bin", np.float32).reshape(-1, 4 + 8)
        assert record["painted"] == len(painted) == inside.sum() > 10_000 and np.array_equal(
            painted[:, :4], scan[inside]
        )
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == ["000000_bev.png", "000000_points.png"]


def test_the_object_sample_oracle_recovers_the_true_point_labels(sample_root):
    """The object folder's calib files, scans and images agree: painting with the label image each frame was
    rendered from gives the points their own labels back (up to object borders)."""
    labels = build_labels("cityscapes", "categories")
    names = list(labels.names)
    lut = truth_table(dataset_family(config_from_dict({}, ["dataset.labels=categories"])), labels)
    scorer = PaintScorer(names, lut, [])
    for frame in find_frames(sample_root / "kitti_object", "training").frames[:2]:
        index = int(frame.name)
        category, (h, w) = street_kind(index)
        street = make_street(_seed(SMALL, "object", "training", index), h, w, category)
        classes = labels.encode(render(street, h, w).label_ids)
        scores = (classes[None] == np.arange(len(names))[:, None, None]).astype(np.float32)
        scan = read_scan(frame.velodyne)
        painted = paint_scan(scan, scores, frame.calib)
        scorer.update(
            painted.index, painted.points[:, :3], painted.classes, read_point_labels(frame.truth, len(scan)), []
        )
    m = scorer.compute()
    assert m["point_accuracy"] > 0.9 and m["per_class"]["flat"]["iou"] > 0.95 and m["per_class"]["vehicle"]["iou"] > 0.7


def test_the_same_frames_paint_alike_in_all_three_layouts(categories_run, sample_root, tmp_path):
    training = sample_root / "kitti" / "data_road" / "training"
    roots = {
        "road": road_layout(training, tmp_path / "road"),
        "object": object_layout(training, tmp_path / "object"),
        "raw": raw_layout(training, tmp_path / "raw"),
    }
    names = {
        "road": list(FRAMES),
        "object": ["000000", "000001"],
        "raw": ["2011_09_26_drive_0001_0000000000", "2011_09_27_drive_0002_0000000000"],
    }
    metrics = {}
    for layout, root in roots.items():
        assert paint(categories_run, root, tmp_path / f"out_{layout}") == 0
        metrics[layout] = json.loads((tmp_path / f"out_{layout}" / "paint_metrics.json").read_text())
        assert (
            metrics[layout]["layout"] == layout and [r["frame"] for r in metrics[layout]["per_frame"]] == names[layout]
        )
    assert metrics["raw"]["split"] is None  # a recording has no split
    for k in range(len(FRAMES)):
        files = {layout: tmp_path / f"out_{layout}" / "painted" / f"{names[layout][k]}.bin" for layout in roots}
        road = np.fromfile(files["road"], np.float32)
        assert road.size > 10_000 * 12
        assert all(np.array_equal(np.fromfile(files[layout], np.float32), road) for layout in ("object", "raw"))
    for key in ("point_accuracy", "point_miou", "painted_points"):
        assert metrics["road"][key] == metrics["object"][key] == metrics["raw"][key], key


def test_layouts_are_recognised_from_the_folder(sample_root, tmp_path):
    training = sample_root / "kitti" / "data_road" / "training"
    assert find_layout(sample_root / "kitti") == find_layout(sample_root / "kitti" / "data_road") == "road"
    assert find_layout(sample_root / "kitti_object") == "object" and find_layout(sample_root / "cityscapes") is None
    assert [f.name for f in find_frames(sample_root / "kitti_object", "testing").frames] == ["000000", "000001"]
    raw = raw_layout(training, tmp_path / "raw")
    drive = raw / "2011_09_26" / "2011_09_26_drive_0001_sync"
    for root, count in ((raw, 2), (raw / "2011_09_26", 1), (drive, 1)):  # above the dates, a date, a drive
        found = find_frames(root, "training")
        assert found.layout == "raw" and len(found.frames) == count and not found.missing
    frame, road = found.frames[0], read_calib(training / "calib" / f"{FRAMES[0]}.txt")
    assert frame.name == "2011_09_26_drive_0001_0000000000" and frame.truth is not None
    for key in ("P2", "R0_rect", "Tr_velo_to_cam"):
        assert np.array_equal(getattr(frame.calib, key), getattr(road, key)), key
    assert frame.calib.Tr_cam_to_road is None
    (raw / "2011_09_27" / "2011_09_27_drive_0002_sync" / "velodyne_points" / "data" / "0000000000.bin").unlink()
    assert find_frames(raw, "training").missing == ["2011_09_27_drive_0002_0000000000"]
    (raw / "2011_09_26" / "calib_velo_to_cam.txt").unlink()
    with pytest.raises(UserError, match=r"Cannot read calibration file '.*2011_09_26/calib_velo_to_cam.txt'"):
        find_frames(raw, "training")


def test_a_calib_file_without_tr_cam_to_road_paints_but_the_road_bev_is_refused(sample_root, tmp_path):
    frame = find_frames(sample_root / "kitti_object", "training").frames[0]
    assert frame.calib.Tr_cam_to_road is None
    h, w = cv2.imread(str(frame.image)).shape[:2]
    assert len(paint_scan(read_scan(frame.velodyne), np.zeros((2, h, w), np.float32), frame.calib).index) > 10_000
    # The same file as a data_road calib file: eval's KITTI road writer refuses the bird's-eye view in one line.
    data_road = tmp_path / "data_road" / "training"
    link(frame.image, data_road / "image_2" / "um_000000.png")
    link(frame.calib.source, data_road / "calib" / "um_000000.txt")
    setup = SimpleNamespace(output_dir=tmp_path / "eval", cfg=SimpleNamespace(eval=SimpleNamespace(max_images=0)))
    results = KittiResults(setup, logging.getLogger("test"), split="val")
    with pytest.raises(UserError) as error:
        results.add_frame("um_000000", data_road / "image_2" / "um_000000.png", np.zeros((h, w), np.uint8))
    message = str(error.value)
    assert "\n" not in message
    assert f"Calibration '{data_road / 'calib' / 'um_000000.txt'}' lacks Tr_cam_to_road, which the road" in message


def test_a_folder_of_no_known_layout_is_one_line_naming_the_three(categories_run, sample_root, tmp_path, capsys):
    link(sample_root / "kitti" / "data_road" / "training" / "image_2", tmp_path / "frames" / "images")
    argv = ["--checkpoint", str(categories_run / "best.pth"), "--set", f"paths.output_dir={categories_run}"]
    argv += [f"paint.root={tmp_path / 'frames'}", "eval.device=cpu"]
    assert paint_points.run_main(paint_points.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"error: '{tmp_path / 'frames'}' (paint.root) holds none of the three KITTI layouts")
    assert err.count("\n") == 1 and all(s in err for s in ("road benchmark", "object benchmark", "raw recording"))
