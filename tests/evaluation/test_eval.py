import json
import zipfile

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import labels as CS_LABELS
from conftest import tiny_overrides, train_quickstart
from test_kitti_devkit import brute_force

import eval as eval_script
import train
from utils.config.errors import EXIT_USER_ERROR
from utils.data.kitti_calib import read_calib
from utils.evaluation.kitti_bev import bev_lookup, to_bev
from utils.evaluation.video import VideoWriter

TRAIN_IDS_AS_LABEL_IDS = {lab.id for lab in CS_LABELS if 0 <= lab.trainId < 255}


def reject_nan(token):
    raise ValueError(f"metrics.json holds {token}, which is not JSON")


@pytest.fixture(scope="module")
def classes_run(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("classes_run")
    extra = [
        "dataset.labels=classes",
        "training.epochs=2",
        "training.iters_per_epoch=6",
        "training.loss=ce_dice",
        "training.lr=0.003",
    ]
    assert train_quickstart(sample_root, out, *extra) == 0
    return out


@pytest.fixture(scope="module")
def kitti_run(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("kitti_run")
    extra = [
        "target=kitti",
        f"paths.root={sample_root / 'kitti'}",
        "dataset.labels=road",
        "dataset.size=[64,192]",
        "training.iters_per_epoch=3",
    ]
    assert (
        train.main(
            [
                "--config_path",
                "configs/kitti_road_fpn.yaml",
                "--set",
                *tiny_overrides(sample_root, out, *extra),
                "training.init_from=null",
            ]
        )
        == 0
    )
    return out


def run_eval(run, *extra, config="configs/quickstart.yaml"):
    return eval_script.main(
        [
            "--config_path",
            config,
            "--checkpoint",
            str(run / "best.pth"),
            "--set",
            f"paths.output_dir={run}",
            "eval.num_workers=0",
            "eval.device=cpu",
            *extra,
        ]
    )


def test_val_metrics_outputs_and_official_agreement(classes_run, sample_root):
    out = classes_run / "eval_val"
    assert (
        run_eval(
            classes_run,
            f"paths.root={sample_root / 'cityscapes'}",
            f"eval.output_dir={out}",
            "eval.drop_clusters=30",
            "eval.tta=hflip",
            "eval.max_images=2",
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=reject_nan)
    assert {"miou", "mean_dice", "pixel_acc", "per_class", "without_drop_clusters", "official"} <= set(metrics)
    assert metrics["per_class"]["wall"]["iou"] is None  # no wall in the sample: NaN, written as null
    assert len(metrics["per_class"]) == 19 and {"iou", "dice"} == set(metrics["per_class"]["road"])
    # The official evaluator reads our exported label-id PNGs and must agree with our confusion matrix.
    official = metrics["official"]
    assert official["averageScoreClasses"] == pytest.approx(metrics["miou"], abs=1e-9)
    assert metrics["miou"] > 0.0
    exports = sorted((out / "cityscapes_results").glob("*.png"))
    assert len(exports) == 5 and all(p.name.endswith("_000019_pred_labelIds.png") for p in exports)
    pred = cv2.imread(str(exports[0]), cv2.IMREAD_UNCHANGED)
    assert pred.shape == (128, 256) and pred.dtype == np.uint8 and set(np.unique(pred)) <= TRAIN_IDS_AS_LABEL_IDS | {0}
    pictures = sorted((out / "pictures").glob("*.png"))
    assert len(pictures) == 4  # max_images=2: a prediction and an overlay each
    assert cv2.imread(str(pictures[0])).shape == (128, 256, 3)
    assert cv2.imread(str(out / "confusion_matrix.png")) is not None


def test_official_agreement_with_unlabeled_as_a_class(classes_run, sample_root, tmp_path):
    """A 20-class model (void trained as 'unlabeled'): the official score is our miou_no_void."""
    ckpt = torch.load(classes_run / "best.pth", weights_only=True)
    ckpt["config"]["dataset"]["unlabeled_class"] = True
    ckpt["labels"]["names"] = ckpt["labels"]["names"] + ["unlabeled"]
    ckpt["labels"]["colors"] = ckpt["labels"]["colors"] + [[0, 0, 0]]
    weight, bias = ckpt["model"]["head.0.weight"], ckpt["model"]["head.0.bias"]
    # 'unlabeled' copies the road logit plus a margin: it takes road pixels (misses) and some void ones.
    ckpt["model"]["head.0.weight"] = torch.cat([weight, weight[:1]])
    ckpt["model"]["head.0.bias"] = torch.cat([bias, bias[:1] + 0.5])
    path = tmp_path / "unlabeled.pth"
    torch.save(ckpt, path)
    out = tmp_path / "eval"
    argv = [
        "--checkpoint",
        str(path),
        "--set",
        f"paths.root={sample_root / 'cityscapes'}",
        f"eval.output_dir={out}",
        "eval.num_workers=0",
        "eval.device=cpu",
    ]
    assert eval_script.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["per_class"]["unlabeled"]["iou"] is not None and metrics["miou_no_void"] != metrics["miou"]
    assert metrics["official"]["averageScoreClasses"] == pytest.approx(metrics["miou_no_void"], abs=1e-9)
    # Every class, not only the mean: ours without void is the official per-class IoU.
    official = {
        name: v
        for name, v in metrics["official"]["classScores"].items()
        if name in metrics["per_class"] and name != "unlabeled"
    }
    assert (
        len(official) == 19 and "iou_no_void" not in metrics["per_class"]["unlabeled"]
    )  # the official lists every label; 19 are scored
    scored = [name for name, v in official.items() if v is not None]
    assert len(scored) >= 8  # the sample has most classes; the rest are NaN for both
    for name, v in official.items():
        ours = metrics["per_class"][name]["iou_no_void"]
        assert (ours is None) if v is None else ours == pytest.approx(v, abs=1e-9), name
    assert any(
        metrics["per_class"][name]["iou"] != pytest.approx(official[name], abs=1e-6) for name in scored
    )  # the plain IoU differs


def test_test_split_predicts_without_labels(classes_run, sample_root):
    out = classes_run / "eval_test"
    assert (
        run_eval(
            classes_run,
            f"paths.root={sample_root / 'cityscapes'}",
            f"eval.output_dir={out}",
            "eval.split=test",
            "eval.inference=slide",
            "dataset.size=[64,128]",
        )
        == 0
    )
    assert not (out / "metrics.json").exists()
    names = sorted(p.name for p in (out / "cityscapes_results").glob("*.png"))
    assert names == ["berlin_000000_000019_pred_labelIds.png", "berlin_000001_000019_pred_labelIds.png"]


def test_frame_folder_and_video_file_become_overlay_videos(classes_run, sample_root, tmp_path):
    frames = sample_root / "cityscapes" / "leftImg8bit" / "demoVideo" / "stuttgart_00"
    out = tmp_path / "folder"
    assert run_eval(classes_run, f"eval.input={frames}", f"eval.output_dir={out}", "eval.max_images=1") == 0
    assert imageio_ffmpeg.count_frames_and_secs(str(out / "predictions.mp4"))[0] == 6
    assert len(list((out / "pictures").glob("*_overlay.png"))) == 1

    clip = tmp_path / "clip.mp4"
    writer = VideoWriter(clip, (256, 128), 10)
    for path in sorted(frames.glob("*.png")):
        writer.write(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    writer.close()
    out = tmp_path / "video"
    assert run_eval(classes_run, f"eval.input={clip}", f"eval.output_dir={out}", "eval.drop_clusters=10") == 0
    result = out / "clip_overlay.mp4"
    assert imageio_ffmpeg.count_frames_and_secs(str(result))[0] == 6
    reader = imageio_ffmpeg.read_frames(str(result))
    assert next(reader)["size"] == (256, 128)


def devkit_gt(path):
    """Read as the devkit's getGroundTruth: BGR, road = B > 0, valid = R > 0; as 0 road, 1 not road, 255 ignored."""
    gt = cv2.imread(str(path))
    road, valid = gt[:, :, 0] > 0, gt[:, :, 2] > 0
    return np.where(valid, np.where(road, 0, 1), 255).astype(np.uint8)


def test_kitti_per_category_scores_in_perspective_and_bev(kitti_run, sample_root):
    out = kitti_run / "eval"
    data_road = sample_root / "kitti" / "data_road" / "training"
    assert (
        run_eval(
            kitti_run,
            f"paths.root={sample_root / 'kitti'}",
            f"eval.output_dir={out}",
            "eval.split=all",
            "eval.max_images=1",
            config="configs/kitti_road_fpn.yaml",
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    # eval.split=all covers every gt file of training/, so the devkit's evaluateRoad.py drops none.
    gt_files = sorted(p.name for p in (data_road / "gt_image_2").glob("*_road_*.png"))
    assert sorted(p.name for p in (out / "kitti_results").glob("*.png")) == gt_files
    assert sorted(p.name for p in (out / "kitti_results_bev").glob("*.png")) == gt_files
    assert list(metrics["kitti"]) == ["um_road", "umm_road", "uu_road", "all"] == list(metrics["kitti_bev"])
    # Recompute every category threshold by threshold from the written PNGs and the gt files.
    for view, folder in (("kitti", out / "kitti_results"), ("kitti_bev", out / "kitti_results_bev")):
        for category in ("um_road", "umm_road", "uu_road", "all"):
            prefix = "" if category == "all" else category + "_"
            confs, gts = [], []
            for path in sorted(folder.glob(f"{prefix}*.png")):
                conf, gt = cv2.imread(str(path), cv2.IMREAD_UNCHANGED), devkit_gt(data_road / "gt_image_2" / path.name)
                if view == "kitti_bev":  # the devkit transforms its colour gt PNG with the frame's calib
                    assert conf.shape == (800, 400)
                    stem = path.stem.replace("_road_", "_")
                    lookup = bev_lookup(read_calib(data_road / "calib" / f"{stem}.txt"), gt.shape)
                    gt = to_bev(cv2.imread(str(data_road / "gt_image_2" / path.name)), lookup)
                    gt = np.where(gt[:, :, 2] > 0, np.where(gt[:, :, 0] > 0, 0, 1), 255).astype(np.uint8)
                assert conf.shape == gt.shape
                confs.append(conf)
                gts.append(gt)
            max_f, precision, recall, ap = brute_force(confs, gts)
            got = metrics[view][category]
            assert got["max_f"] == pytest.approx(max_f) and got["precision"] == pytest.approx(precision), (
                view,
                category,
            )
            assert got["recall"] == pytest.approx(recall) and got["average_precision"] == pytest.approx(ap), (
                view,
                category,
            )
    assert metrics["kitti"]["um_road"]["max_f"] != metrics["kitti_bev"]["um_road"]["max_f"]
    bev_picture = cv2.imread(str(out / "pictures" / f"{gt_files[0].replace('_road_', '_')[:-4]}_bev.png"))
    assert bev_picture.shape == (800, 808, 3)  # confidence | gt


def test_kitti_test_split_writes_the_submission(kitti_run, sample_root):
    out = kitti_run / "eval_test"
    assert (
        run_eval(
            kitti_run,
            f"paths.root={sample_root / 'kitti'}",
            f"eval.output_dir={out}",
            "eval.split=test",
            config="configs/kitti_road_fpn.yaml",
        )
        == 0
    )
    images = sorted((sample_root / "kitti" / "data_road" / "testing" / "image_2").glob("*.png"))
    expected = sorted(p.name.replace("_", "_road_", 1) for p in images)
    assert sorted(p.name for p in (out / "kitti_results").glob("*.png")) == expected
    assert sorted(p.name for p in (out / "kitti_results_bev").glob("*.png")) == expected
    for image in images:
        conf = cv2.imread(str(out / "kitti_results" / image.name.replace("_", "_road_", 1)), cv2.IMREAD_UNCHANGED)
        assert conf.dtype == np.uint8 and conf.shape == cv2.imread(str(image)).shape[:2]
    with zipfile.ZipFile(out / "kitti_bev_submission.zip") as archive:
        assert sorted(archive.namelist()) == expected  # at the zip's root, as the server takes it
        bev = cv2.imdecode(np.frombuffer(archive.read(expected[0]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert bev.shape == (800, 400) and np.array_equal(
        bev, cv2.imread(str(out / "kitti_results_bev" / expected[0]), cv2.IMREAD_UNCHANGED)
    )
    assert not (out / "metrics.json").exists()


def test_kitti_without_calib_still_scores_perspective(kitti_run, sample_root, tmp_path, caplog):
    training = tmp_path / "kitti" / "data_road" / "training"
    training.mkdir(parents=True)
    for name in ("image_2", "gt_image_2"):
        (training / name).symlink_to(sample_root / "kitti" / "data_road" / "training" / name)
    out = tmp_path / "eval"
    assert (
        run_eval(
            kitti_run,
            f"paths.root={tmp_path / 'kitti'}",
            f"eval.output_dir={out}",
            config="configs/kitti_road_fpn.yaml",
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert "kitti_bev" not in metrics and metrics["kitti"]["all"]["max_f"] > 0
    assert "bird's-eye view needs the calibration" in caplog.text and "calib/<name>.txt" in caplog.text
    assert not (out / "kitti_results_bev").exists()


def test_kitti_model_on_a_folder_of_arbitrary_names(kitti_run, sample_root, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    image = cv2.imread(str(sample_root / "kitti" / "data_road" / "testing" / "image_2" / "um_000000.png"))
    cv2.imwrite(str(folder / "frame0.png"), image)
    out = tmp_path / "out"
    assert (
        run_eval(kitti_run, f"eval.input={folder}", f"eval.output_dir={out}", config="configs/kitti_road_fpn.yaml") == 0
    )
    confidence = cv2.imread(str(out / "kitti_results" / "frame0.png"), cv2.IMREAD_UNCHANGED)
    assert confidence.shape == image.shape[:2] and confidence.dtype == np.uint8


def test_wrong_inputs_are_clear_errors(classes_run, kitti_run, sample_root, capsys):
    image = next((sample_root / "cityscapes" / "leftImg8bit" / "val").glob("*/*.png"))
    argv = ["--checkpoint", str(classes_run / "best.pth"), "--set", f"eval.input={image}"]
    assert eval_script.run_main(eval_script.main, argv) == EXIT_USER_ERROR
    assert "is a file but not a video" in capsys.readouterr().err
    argv = ["--checkpoint", str(kitti_run / "best.pth"), "--set", "target=cityscapes", "dataset.labels=categories"]
    assert eval_script.run_main(eval_script.main, argv) == EXIT_USER_ERROR
    assert "No mapping between the classes of checkpoint" in capsys.readouterr().err
    argv = ["--checkpoint", str(classes_run / "best.pth"), "--set", "model.encoder=resnet34"]
    assert eval_script.run_main(eval_script.main, argv) == EXIT_USER_ERROR
    assert "does not fit model" in capsys.readouterr().err


def test_bad_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert eval_script.run_main(eval_script.main, ["--checkpoint", str(tmp_path / "missing.pth")]) == EXIT_USER_ERROR
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    assert eval_script.run_main(eval_script.main, ["--checkpoint", str(broken)]) == EXIT_USER_ERROR
    assert "cannot be read" in capsys.readouterr().err
