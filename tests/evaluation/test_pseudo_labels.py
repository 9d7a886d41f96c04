"""eval.pseudo_label_threshold: pseudo-labels for review in the folder family's layout, checked against
confidences computed independently (Predictor), trained on as they are, and refused where they cannot be written."""

import logging
import shutil
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import TINY, tiny_overrides

import eval as eval_script
import train
from utils.checkpoint import Checkpoint
from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.config.loading import config_from_dict
from utils.data.checks import checked_items
from utils.data.families import build_labels, dataset_family
from utils.evaluation.predictor import Predictor
from utils.evaluation.pseudo_labels import pseudo_label_encoding
from utils.evaluation.video import VideoWriter
from utils.labels import IGNORE_INDEX

DROP = 20  # the quickstart's DropClusters, which changes a few pixels of the tiny model's maps


@pytest.fixture(scope="module")
def unlabelled(sample_root, tmp_path_factory):
    """Three frames as a team would drop them: two PNGs in a subfolder and a JPEG at the top."""
    folder = tmp_path_factory.mktemp("unlabelled")
    val = sorted((sample_root / "cityscapes" / "leftImg8bit" / "val").glob("*/*.png"))
    (folder / "car1").mkdir()
    for path in val[:2]:
        shutil.copyfile(path, folder / "car1" / path.name)
    cv2.imwrite(str(folder / "frame.jpg"), cv2.imread(str(val[2])), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def run_eval(run, out, *extra) -> int:
    argv = ["--checkpoint", str(run / "best.pth"), "--set", f"eval.output_dir={out}", "eval.device=cpu"]
    argv += ["eval.num_workers=0", "eval.max_images=0", "eval.tta=hflip", f"eval.drop_clusters={DROP}", *extra]
    return eval_script.run_main(eval_script.main, argv)


def independent_predictions(run, folder) -> dict:
    """relative image path -> (confidence, class map without DropClusters, class map with it), from Predictor."""
    out = {}
    with (
        Predictor.from_checkpoint(run / "best.pth", device="cpu", tta="hflip") as plain,
        Predictor.from_checkpoint(run / "best.pth", device="cpu", tta="hflip", drop_clusters=DROP) as cleaned,
    ):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            out[path.relative_to(folder)] = (plain.probabilities(rgb).max(0), plain(rgb), cleaned(rgb))
    return out


@pytest.fixture(scope="module")
def written(tiny_run, unlabelled, tmp_path_factory):
    """eval.py's pseudo_labels/ at a threshold that splits the pixels, with the independent predictions."""
    expected = independent_predictions(tiny_run, unlabelled)
    threshold = float(np.median(np.concatenate([conf.ravel() for conf, _, _ in expected.values()])))
    out = tmp_path_factory.mktemp("pseudo_eval")
    assert run_eval(tiny_run, out, f"eval.input={unlabelled}", f"eval.pseudo_label_threshold={threshold}") == 0
    return out / "pseudo_labels", expected, threshold


def read_classes(root) -> tuple:
    data = yaml.safe_load((root / "classes.yaml").read_text())
    return [c["name"] for c in data["classes"]], [c["value"] for c in data["classes"]], data["ignore"]


def test_files_values_and_ignored_pixels_follow_the_confidence(written, unlabelled, tiny_run):
    root, expected, threshold = written
    names, values, ignore = read_classes(root)
    assert names == Checkpoint.load(tiny_run / "best.pth").class_names
    # Cityscapes categories: the smallest label id of each category (void is unlabeled, flat is road, ...).
    assert values == [0, 7, 11, 17, 21, 23, 24, 26] and ignore == [255]
    table = np.full(256, ignore[0], np.uint8)
    table[: len(values)] = values
    kept_any = ignored_any = dropped_and_confident = False
    for relative, (conf, raw, final) in expected.items():
        image = root / "images" / "train" / relative
        assert image.read_bytes() == (unlabelled / relative).read_bytes()  # the input itself, JPEG stays JPEG
        label = cv2.imread(str((root / "labels" / "train" / relative).with_suffix(".png")), cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8 and label.shape == conf.shape  # single channel, at the image's size
        assert set(np.unique(label)) <= {*values, *ignore}
        changed = final != raw
        ignored = (conf < threshold) | changed
        np.testing.assert_array_equal(label == ignore[0], ignored)
        np.testing.assert_array_equal(label[~ignored], table[final][~ignored])
        kept_any |= bool((~ignored).any())
        ignored_any |= bool((conf < threshold).any())
        dropped_and_confident |= bool((changed & (conf >= threshold)).any())
    assert kept_any and ignored_any and dropped_and_confident  # each rule decides some pixel here


def test_pseudo_labels_train_as_a_folder_dataset(written, sample_root, tiny_run, tmp_path):
    root = shutil.copytree(written[0], tmp_path / "fleet")
    for kind in ("images", "labels"):  # the folder family validates on labels/val: here a copy of train
        shutil.copytree(root / kind / "train", root / kind / "val")
    cfg = config_from_dict({"target": "folder", "paths": {"root": str(root)}})
    items = checked_items(cfg, ("train", "val"), logging.getLogger("test"))  # the data check passes
    assert len(items["train"]) == 3
    labels = dataset_family(cfg).labels()
    for item in items["train"]:  # the label files decode to the predicted class indices, ignore to ignore
        relative = item.image.relative_to(root / "images" / "train")
        conf, raw, final = written[1][relative]
        ignored = (conf < written[2]) | (final != raw)
        decoded = labels.encode(cv2.imread(str(item.label), cv2.IMREAD_UNCHANGED))
        np.testing.assert_array_equal(decoded, np.where(ignored, IGNORE_INDEX, final))
    out = tmp_path / "run"
    extra = [*TINY, f"paths.root={root}", "training.iters_per_epoch=1"]
    argv = ["--config_path", "configs/folder_fpn.yaml", "--set", *tiny_overrides(sample_root, out, *extra)]
    assert train.main(argv) == 0
    trained = Checkpoint.load(out / "last.pth").class_names
    assert trained == Checkpoint.load(tiny_run / "best.pth").class_names  # same classes, same order


def test_threshold_one_keeps_only_full_confidence(tiny_run, unlabelled, tmp_path):
    ckpt = torch.load(tiny_run / "best.pth", map_location="cpu", weights_only=False)
    for key in ("head.0.weight", "head.0.bias"):  # logits x1000: most sigmoids saturate at exactly 1.0
        ckpt["model"][key] = ckpt["model"][key] * 1000
    saturated = tmp_path / "saturated"
    saturated.mkdir()
    torch.save(ckpt, saturated / "best.pth")
    assert run_eval(saturated, tmp_path, f"eval.input={unlabelled}", "eval.pseudo_label_threshold=1.0") == 0
    almost = 0
    for relative, (conf, raw, final) in independent_predictions(saturated, unlabelled).items():
        label = cv2.imread(str((tmp_path / "pseudo_labels" / "labels" / "train" / relative).with_suffix(".png")), -1)
        np.testing.assert_array_equal(label != 255, (conf == 1.0) & (final == raw))
        assert (label != 255).mean() > 0.5
        almost += int(((conf >= 0.99) & (conf < 1.0)).sum())  # the upsampled edges: ignored
    assert almost > 0


def test_a_video_gives_every_frame_and_its_labels(tiny_run, unlabelled, written, tmp_path):
    frames = [cv2.imread(str(p)) for p in sorted(unlabelled.rglob("*.png"))]
    with VideoWriter(tmp_path / "drive.mp4", (frames[0].shape[1], frames[0].shape[0]), 5) as video:
        for frame in frames:
            video.write(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    out = tmp_path / "eval"
    assert (
        run_eval(tiny_run, out, f"eval.input={tmp_path / 'drive.mp4'}", f"eval.pseudo_label_threshold={written[2]}")
        == 0
    )
    root = out / "pseudo_labels"
    assert sorted(p.name for p in (root / "images" / "train").iterdir()) == ["drive_000000.png", "drive_000001.png"]
    # Each written frame is the decoded frame itself (a PNG), so Predictor on it sees what eval saw.
    for relative, (conf, raw, final) in independent_predictions(tiny_run, root / "images").items():
        label = cv2.imread(str(root / "labels" / relative), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(label == 255, (conf < written[2]) | (final != raw))


def test_bad_thresholds_and_a_missing_input_are_one_line(tiny_run, unlabelled, tmp_path, capsys):
    for bad in ("1.5", "0"):
        assert run_eval(tiny_run, tmp_path, f"eval.input={unlabelled}", f"eval.pseudo_label_threshold={bad}") == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "eval.pseudo_label_threshold" in err and "(0, 1]" in err
    assert run_eval(tiny_run, tmp_path, "eval.pseudo_label_threshold=0.9") == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "needs eval.input: give a folder" in err
    assert not (tmp_path / "pseudo_labels").exists()


def test_an_earlier_pseudo_label_folder_is_never_overwritten(tiny_run, unlabelled, written, tmp_path, capsys):
    out = tmp_path / "eval"
    shutil.copytree(written[0], out / "pseudo_labels")  # pairs someone may be correcting
    label = sorted((out / "pseudo_labels" / "labels").rglob("*.png"))[0]
    corrected = label.read_bytes()
    args = (f"eval.input={unlabelled}", "eval.pseudo_label_threshold=0.5")
    assert run_eval(tiny_run, out, *args) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already holds pseudo-labels" in err and "never overwritten" in err
    assert label.read_bytes() == corrected and not (out / "metrics.json").exists()


@pytest.mark.parametrize(
    "target, mode, unlabeled_class",
    [
        ("cityscapes", "categories", False),
        ("cityscapes", "road", False),
        ("cityscapes", "classes", False),
        ("cityscapes", "classes", True),
        ("cityscapes", ["road", "car"], False),
        ("bdd100k", "classes", False),
        ("bdd100k", "categories", False),
        ("vistas", "v2.0", False),
        ("folder", "classes", False),
    ],
)
def test_every_label_mode_writes_values_that_decode_to_its_classes(sample_root, target, mode, unlabeled_class):
    labels = build_labels(target, mode, unlabeled_class, root=sample_root / target)
    cfg = config_from_dict(
        {
            "target": target,
            "paths": {"root": str(sample_root / target)},
            "dataset": {"labels": mode, "unlabeled_class": unlabeled_class},
            "eval": {"input": "frames"},
        }
    )
    values, ignore = pseudo_label_encoding(SimpleNamespace(cfg=cfg, family=dataset_family(cfg), labels=labels))
    np.testing.assert_array_equal(labels.lut[list(values)], np.arange(labels.num_classes))  # same class indices
    if labels.to_label_id is not None:
        assert values == tuple(labels.to_label_id)  # what eval's results/ writes
    assert ignore not in values  # e.g. 255 where Cityscapes' 'unlabeled' class holds id 0


def test_kitti_is_refused_naming_its_label_mode(sample_root):
    cfg = config_from_dict({"target": "kitti", "paths": {"root": str(sample_root / "kitti")}, "eval": {"input": "x"}})
    family = dataset_family(cfg)
    with pytest.raises(UserError, match="target kitti in label mode 'road'"):
        pseudo_label_encoding(SimpleNamespace(cfg=cfg, family=family, labels=family.labels()))
