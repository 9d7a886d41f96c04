"""eval.py scoring a checkpoint of the 19 Cityscapes classes on other datasets' classes, through the mapping
between the two (utils/data/taxonomy.py): the figures of metrics.json against a numpy count of the written results
and the label files."""

import json
import math

import cv2
import numpy as np
import pytest
from cityscapesscripts.helpers.labels import name2label
from PIL import Image

import eval as eval_script
from utils.config.errors import EXIT_USER_ERROR
from utils.data.families.vistas_to_cityscapes import cityscapes_class
from utils.data.taxonomy import CAMVID11, CITYSCAPES19
from utils.evaluation.eval_config import merged_config


def run_eval(run, out, *extra) -> dict:
    argv = ["--checkpoint", str(run / "best.pth"), "--set", f"eval.output_dir={out}", "eval.device=cpu"]
    assert eval_script.main([*argv, "eval.num_workers=0", "eval.max_images=1", *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def ious(pairs, n: int) -> list:
    """Per-class IoU over (prediction, ground truth) class-index maps; 255 in the ground truth counts for nothing, a
    prediction outside 0..n-1 is a miss; NaN where a class is in neither."""
    matrix = np.zeros((n, n + 1), np.int64)
    for pred, gt in pairs:
        keep = gt < n
        np.add.at(matrix, (gt[keep], np.minimum(pred[keep], n)), 1)
    tp = np.diag(matrix[:, :n])
    union = matrix.sum(1) + matrix[:, :n].sum(0) - tp
    return [tp[c] / union[c] if union[c] else math.nan for c in range(n)]


def assert_per_class(metrics: dict, names, expected: list) -> None:
    for name, value in zip(names, expected):
        got = metrics["per_class"][name]["iou"]
        assert (math.isnan(value) and (got is None or math.isnan(got))) or got == pytest.approx(value, abs=1e-9), name


def test_a_cityscapes_model_on_vistas_scores_the_ground_truth_mapped_through_the_table(
    cityscapes19_run, sample_root, tmp_path
):
    root, out = sample_root / "vistas", tmp_path / "eval"
    metrics = run_eval(cityscapes19_run, out, "target=vistas", f"paths.root={root}")
    mapping = metrics["class_mapping"]
    assert mapping["kind"] == "ground_truth" and mapping["description"].startswith("vistas v2.0 -> cityscapes19")
    assert list(metrics["per_class"]) == list(CITYSCAPES19) == mapping["scored_classes"]
    names = [entry["name"] for entry in json.loads((root / "config_v2.0.json").read_text())["labels"]]
    to_train = np.full(256, 255, np.uint8)
    for index, name in enumerate(names):
        if cityscapes_class(name) is not None:
            to_train[index] = name2label[cityscapes_class(name)].trainId
    pairs = []
    for label in sorted((root / "validation" / "v2.0" / "labels").glob("*.png")):
        pred = cv2.imread(str(out / "results" / label.relative_to(root)), cv2.IMREAD_UNCHANGED)  # train ids
        pairs.append((pred, to_train[np.array(Image.open(label))]))
    assert len(pairs) == metrics["images"] == 3 and pairs[0][0].shape == pairs[0][1].shape
    assert_per_class(metrics, CITYSCAPES19, ious(pairs, 19))
    colours = {tuple(c) for c in np.asarray(Image.open(next((out / "pictures").glob("*_pred.png")))).reshape(-1, 3)}
    assert colours <= {tuple(name2label[n].color) for n in CITYSCAPES19} | {(0, 0, 0)}


def test_a_cityscapes_model_on_bdd100k_has_the_same_classes(cityscapes19_run, sample_root, tmp_path):
    root, out = sample_root / "bdd100k", tmp_path / "eval"
    metrics = run_eval(cityscapes19_run, out, "target=bdd100k", f"paths.root={root}")
    assert metrics["class_mapping"]["kind"] == "same" and metrics["target"] == "bdd100k"
    masks = root / "bdd100k" / "labels" / "sem_seg" / "masks" / "val"
    pairs = [
        (cv2.imread(str(out / "results" / m.relative_to(root)), cv2.IMREAD_UNCHANGED), cv2.imread(str(m), 0))
        for m in sorted(masks.glob("*.png"))
    ]
    assert len(pairs) == metrics["images"] == 3
    assert_per_class(metrics, CITYSCAPES19, ious(pairs, 19))


def test_a_cityscapes_model_on_camvids_test_split_sums_its_predictions_into_its_classes(
    cityscapes19_run, sample_root, tmp_path
):
    root, out = sample_root / "camvid", tmp_path / "eval"
    extra = ["target=camvid", f"paths.root={root}", "eval.split=test", "eval.drop_clusters_fill=Road"]
    metrics = run_eval(cityscapes19_run, out, *extra)
    assert metrics["class_mapping"]["kind"] == "predictions" and "camvid11" in metrics["class_mapping"]["description"]
    assert list(metrics["per_class"]) == list(CAMVID11) and metrics["tta"] == "hflip" and metrics["drop_clusters"] > 0
    pairs = [
        (cv2.imread(str(out / "results" / gt.relative_to(root)), cv2.IMREAD_UNCHANGED), cv2.imread(str(gt), 0))
        for gt in sorted((root / "testannot").glob("*.png"))
    ]
    assert len(pairs) == metrics["images"] == 3 and all(p.max() <= 10 for p, _ in pairs)  # CamVid's own indices
    assert_per_class(metrics, CAMVID11, ious(pairs, 11))
    header = (out / "per_image.csv").read_text().splitlines()[0]
    assert (
        header.endswith("iou_Pedestrian,iou_Bicyclist") and len((out / "per_image.csv").read_text().splitlines()) == 4
    )


def test_classes_without_a_mapping_stop_in_one_line(cityscapes19_run, sample_root, tmp_path, capsys):
    argv = ["--checkpoint", str(cityscapes19_run / "best.pth"), "--set", "target=folder"]
    argv += [f"paths.root={sample_root / 'folder'}", f"eval.output_dir={tmp_path / 'eval'}", "eval.device=cpu"]
    assert eval_script.run_main(eval_script.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No mapping between the classes of checkpoint" in err
    assert "(target cityscapes, dataset.labels classes)" in err and "target folder (dataset.labels classes" in err
    assert "maps_to" in err and not (tmp_path / "eval" / "metrics.json").exists()


def test_a_training_recipe_serves_as_the_eval_config_of_another_family(cityscapes19_run, sample_root):
    recipe = "configs/cityscapes_classes19_fpn_r50_80k.yaml"  # dataset.labels: classes, which Vistas has not
    cfg, _, _ = merged_config(
        recipe, str(cityscapes19_run / "best.pth"), ["target=vistas", f"paths.root={sample_root}"]
    )
    assert cfg.target == "vistas" and cfg.dataset.labels is None and cfg.dataset.crop_size == [512, 1024]
