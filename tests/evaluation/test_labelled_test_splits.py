"""A test split with labels is scored like val: CamVid's testannot/ (a tiny model trained on the sample's CamVid, its
results/ scored here by hand against the annotations) and a folder dataset's labels/test/; without labels, test is
predicted as before."""

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import SMALL, train_quickstart

import eval as eval_script
from utils.config.loading import config_from_dict
from utils.data.families import dataset_family
from utils.labels import IGNORE_INDEX


@pytest.fixture(scope="module")
def camvid_run(sample_root, tmp_path_factory):
    """A 2-step FPN-resnet18 on the sample's CamVid at its 48x64."""
    out = tmp_path_factory.mktemp("camvid") / "run"
    extra = [f"paths.root={sample_root / 'camvid'}", "target=camvid", "dataset.labels=classes", "dataset.size=[48,64]"]
    assert train_quickstart(sample_root, out, *extra) == 0
    return out


def evaluate(run, root, out, *extra) -> int:
    argv = ["--checkpoint", str(run / "best.pth"), "--set", f"paths.root={root}", f"eval.output_dir={out}"]
    return eval_script.main([*argv, "eval.device=cpu", "eval.num_workers=0", *extra])


def iou_by_hand(pairs, num_classes: int, lut) -> list:
    """Per-class IoU from (result, annotation) label files alone: one confusion matrix over every pixel whose
    annotation is a class (a result value outside the classes, the void a dropped pixel gets, is a miss)."""
    n = num_classes
    matrix = np.zeros((n, n + 1), np.int64)
    for result, annotation in pairs:
        pred = lut[cv2.imread(str(result), cv2.IMREAD_UNCHANGED)].astype(np.int64).ravel()
        true = lut[cv2.imread(str(annotation), cv2.IMREAD_UNCHANGED)].astype(np.int64).ravel()
        keep = true != IGNORE_INDEX
        pred = np.minimum(pred, n)
        matrix += np.bincount(true[keep] * (n + 1) + pred[keep], minlength=n * (n + 1)).reshape(n, n + 1)
    tp = np.diag(matrix[:, :n])
    union = matrix.sum(1) + matrix[:, :n].sum(0) - tp
    return [tp[c] / union[c] if union[c] else None for c in range(n)]


def test_eval_scores_camvids_test_split_and_its_results_score_as_metrics_json(camvid_run, sample_root, tmp_path):
    root, out = sample_root / "camvid", tmp_path / "eval"
    extra = ["eval.split=test", "eval.drop_clusters=6", "eval.drop_clusters_fill=ignore", "eval.max_images=0"]
    assert evaluate(camvid_run, root, out, *extra) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    fam = dataset_family(config_from_dict({}, ["target=camvid", f"paths.root={root}"]))
    labels, items = fam.labels(), fam.items("test")
    assert metrics["split"] == "test" and metrics["images"] == len(items) == SMALL.camvid_splits["test"]
    pairs = [(out / "results" / "testannot" / item.label.name, item.label) for item in items]
    assert sorted(p.name for p in (out / "results").rglob("*.png")) == sorted(r.name for r, _ in pairs)
    values = set()
    for result, annotation in pairs:  # CamVid's own encoding, at the annotation's resolution
        written = cv2.imread(str(result), cv2.IMREAD_UNCHANGED)
        assert written.ndim == 2 and written.shape == cv2.imread(str(annotation), cv2.IMREAD_UNCHANGED).shape
        values |= set(np.unique(written).tolist())
    assert values <= set(range(12)) and 11 in values  # DropClusters' fill ignore wrote void where it dropped pixels
    ours = iou_by_hand(pairs, labels.num_classes, labels.lut)
    for name, iou in zip(labels.names, ours):
        assert metrics["per_class"][name]["iou"] == (None if iou is None else pytest.approx(iou, abs=1e-12)), name
    scored = [v for v in ours if v is not None]
    assert metrics["miou"] == pytest.approx(sum(scored) / len(scored), abs=1e-12)
    assert (out / "per_image.csv").read_text().count("\n") == len(items) + 1 and (out / "report.html").is_file()


def test_eval_scores_a_folder_datasets_labels_test_and_predicts_an_unlabelled_test(family_run, sample_root, tmp_path):
    target, run, _ = family_run
    root = tmp_path / "folder"
    shutil.copytree(sample_root / "folder", root)
    out = tmp_path / "unlabelled"
    assert evaluate(run, root, out, "eval.split=test") == 0  # no labels/test/: predictions, as before
    assert not (out / "metrics.json").exists() and list((out / "pictures").glob("*_pred.png"))
    shutil.rmtree(root / "images" / "test")  # a team's held-out set: the val frames with their labels, as test
    shutil.copytree(root / "images" / "val", root / "images" / "test")
    shutil.copytree(root / "labels" / "val", root / "labels" / "test")
    out = tmp_path / "labelled"
    assert evaluate(run, root, out, "eval.split=test") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    fam = dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={root}"]))
    items = fam.items("test")
    assert metrics["split"] == "test" and metrics["images"] == len(items) == SMALL.folder_splits["val"]
    pairs = [(out / "results" / item.label.relative_to(root), item.label) for item in items]
    assert all(result.is_file() and "labels/test/" in str(result) for result, _ in pairs)
    labels = fam.labels()
    for name, iou in zip(labels.names, iou_by_hand(pairs, labels.num_classes, labels.lut)):
        assert metrics["per_class"][name]["iou"] == (None if iou is None else pytest.approx(iou, abs=1e-12)), name


test_eval_scores_a_folder_datasets_labels_test_and_predicts_an_unlabelled_test = pytest.mark.parametrize(
    "family_run", ["folder"], indirect=True
)(test_eval_scores_a_folder_datasets_labels_test_and_predicts_an_unlabelled_test)
