"""BDD100K, Vistas and folder datasets end to end on the sample's files: train, eval with results in the dataset's
own encoding (scored here by hand against the ground-truth files), inspect, the prepared cache, export, painting."""

import csv
import json
import logging

import cv2
import numpy as np
import pytest
from conftest import FAMILY_CONFIGS as CONFIGS

import eval as eval_script
import export
import paint_points
from utils.config.loading import config_from_dict
from utils.data.families import dataset_family
from utils.data.inspect import main as inspect_main
from utils.data.loaders import build_dataset
from utils.data.prepare import build_cache
from utils.labels import IGNORE_INDEX


def run_eval(run, root, *extra):
    return eval_script.main(
        [
            "--checkpoint",
            str(run / "best.pth"),
            "--set",
            f"paths.root={root}",
            f"paths.output_dir={run}",
            "eval.num_workers=0",
            "eval.device=cpu",
            *extra,
        ]
    )


def score_files(fam, pairs) -> dict:
    """Per-class IoU of result files against label files, counted here from the files alone (a prediction of no
    class, 255 after the family's lookup, is a miss for the true class, as the metrics count it)."""
    labels = fam.labels()
    n = labels.num_classes
    matrix = np.zeros((n, n + 1), np.int64)
    for result, gt in pairs:
        pred, true = (labels.encode(fam.read_label(path)).ravel().astype(np.int64) for path in (result, gt))
        keep = true != IGNORE_INDEX
        pred = np.where(pred < n, pred, n)
        matrix += np.bincount(true[keep] * (n + 1) + pred[keep], minlength=n * (n + 1)).reshape(n, n + 1)
    tp = np.diag(matrix[:, :n]).astype(float)
    union = matrix.sum(1) + matrix[:, :n].sum(0) - tp
    return {name: (tp[c] / union[c] if union[c] else None) for c, name in enumerate(labels.names)}


def test_eval_results_in_the_family_encoding_score_as_metrics_json(family_run):
    target, run, root = family_run
    out = run / "eval"
    fill = (
        "ignore" if target == "folder" else "majority"
    )  # the folder dataset writes a dropped pixel as its ignore value
    assert (
        run_eval(
            run,
            root,
            f"eval.output_dir={out}",
            "eval.tta=hflip",
            "eval.drop_clusters=8",
            f"eval.drop_clusters_fill={fill}",
            "eval.max_images=2",
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    fam = dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={root}"]))
    items = fam.items("val")
    assert list(metrics["per_class"]) == list(fam.labels().names) and metrics["images"] == len(items)
    pairs = []
    for item in items:
        result = out / "results" / item.label.relative_to(root)  # the ground truth's own path under results/
        assert result.is_file(), result
        assert cv2.imread(str(result), cv2.IMREAD_UNCHANGED).shape[:2] == cv2.imread(str(item.image)).shape[:2]
        pairs.append((result, item.label))
    assert len(list((out / "results").rglob("*.png"))) == len(items)
    ours = score_files(fam, pairs)
    for name, iou in ours.items():
        assert metrics["per_class"][name]["iou"] == (None if iou is None else pytest.approx(iou, abs=1e-12)), name
    assert metrics["without_drop_clusters"]["miou"] > 0 and (out / "examples.png").is_file()
    values = set(np.unique(fam.read_label(pairs[0][0])).tolist())
    assert values <= set(fam.labels().to_label_id) | {fam.labels().ignore_value}  # label values, not class indices
    check_per_image_csv(fam, root, out)


def check_per_image_csv(fam, root, out):
    """per_image.csv against each image's files, scored here; the worst/ panels in its order."""
    labels = fam.labels()
    with open(out / "per_image.csv", newline="") as f:
        rows = {r["image"]: r for r in csv.DictReader(f)}
    items = fam.items("val")
    assert set(rows) == {i.name for i in items} and list(next(iter(rows.values())))[:3] == [
        "image",
        "pixel_acc",
        "miou",
    ]
    for item in items:
        ious = score_files(fam, [(out / "results" / item.label.relative_to(root), item.label)])
        row = rows[item.name]
        for name, iou in ious.items():  # empty where the class is in neither the gt nor the prediction
            cell = row[f"iou_{name}"]
            assert cell == "" if iou is None else float(cell) == pytest.approx(iou, abs=1e-6), (item.name, name)
        occurring = [v for v in ious.values() if v is not None]
        assert float(row["miou"]) == pytest.approx(sum(occurring) / len(occurring), abs=1e-6)
        pred = labels.encode(fam.read_label(out / "results" / item.label.relative_to(root)))
        gt = labels.encode(fam.read_label(item.label))
        assert float(row["pixel_acc"]) == pytest.approx(
            ((pred == gt) & (gt != IGNORE_INDEX)).sum() / (gt != IGNORE_INDEX).sum(), abs=1e-6
        )
    worst = sorted((out / "worst").glob("*.png"))
    lowest = sorted(rows.values(), key=lambda r: float(r["miou"]))[0]["image"]
    assert (
        len(worst) == len(items) and worst[0].name == f"01_{lowest}.png"
    )  # fewer images than eval.report_worst: all drawn


def test_predicting_a_folder_without_the_dataset_takes_the_classes_from_the_checkpoint(family_run, tmp_path, caplog):
    target, run, root = family_run
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, item in enumerate(
        dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={root}"])).items("test", labelled=False)
    ):
        cv2.imwrite(str(frames / f"frame_{i}.png"), cv2.imread(str(item.image)))
    out = tmp_path / "predictions"
    with caplog.at_level(logging.INFO):
        assert run_eval(run, tmp_path / "not_here", f"eval.input={frames}", f"eval.output_dir={out}") == 0
    if target in ("vistas", "folder"):  # their classes are described by files of the dataset
        assert "the classes come from the checkpoint" in caplog.text
    assert sorted(p.name for p in (out / "pictures").glob("*_pred.png")) == [
        f"frame_{i}_pred.png" for i in range(len(list(frames.iterdir())))
    ]


def test_inspect_reports_shares_and_weights_from_the_files(family_run, tmp_path, capsys):
    target, _, root = family_run
    report = tmp_path / "inspect.json"
    assert (
        inspect_main(
            [
                "--config_path",
                CONFIGS[target],
                "--set",
                f"paths.root={root}",
                "--json",
                str(report),
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    data = json.loads(report.read_text())
    fam = dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={root}"]))
    labels, items = fam.labels(), fam.items("train")
    counts = np.stack([np.bincount(labels.encode(fam.read_label(i.label)).ravel(), minlength=256) for i in items])
    pixels = counts[:, : labels.num_classes]
    share = pixels.sum(0) / pixels.sum()
    for c, name in enumerate(labels.names):
        assert data["train"][name]["share"] == pytest.approx(share[c]) and data["train"][name]["images"] == int(
            (pixels[:, c] > 0).sum()
        )
    assert data["class_weights"]["enet"] == pytest.approx(1 / np.log(1.02 + share), abs=1e-4)
    present = pixels > 0
    freq = np.array(
        [
            pixels[present[:, c], c].sum() / pixels[present[:, c]].sum() if present[:, c].any() else 0.0
            for c in range(labels.num_classes)
        ]
    )
    median = np.median(freq[freq > 0])
    assert data["class_weights"]["median_frequency"] == pytest.approx(
        [median / f if f else 0.0 for f in freq], abs=1e-4
    )
    assert data["splits"]["train"]["images"] == len(items) and data["splits"]["val"]["ignored_share"] >= 0
    picture = cv2.imread(str(tmp_path / "inspect.png"))
    assert picture is not None and picture.std() > 10
    assert "median frequency" in capsys.readouterr().out


def test_the_prepared_cache_serves_the_family(family_run, tmp_path):
    target, _, root = family_run
    cfg = config_from_dict(
        {}, [f"target={target}", f"paths.root={root}", f"dataset.cache_dir={tmp_path}", "dataset.size=[64,128]"]
    )
    build_cache(cfg, "val", (64, 128), workers=1, say=lambda _msg: None)
    fam = dataset_family(cfg)
    cached, plain = (
        build_dataset(cfg, fam.labels(), "val", "val"),
        build_dataset(cfg, fam.labels(), "val", "val", use_cache=False),
    )
    assert cached.cache is not None and plain.cache is None
    for k in range(len(cached)):
        assert (cached[k]["mask"] == plain[k]["mask"]).all() and (
            cached[k]["image"] - plain[k]["image"]
        ).abs().max() < 1e-5


@pytest.mark.parametrize(
    "family_run", ["bdd100k"], indirect=True
)  # one family: export and painting ask it nothing else
def test_export_and_painting_work_for_a_family_model(family_run, sample_root, tmp_path):
    target, run, root = family_run
    onnx = tmp_path / "model.onnx"
    assert (
        export.main(
            [
                "--checkpoint",
                str(run / "best.pth"),
                "--onnx",
                str(onnx),
                "--check_images",
                "1",
                "--set",
                f"paths.root={root}",
            ]
        )
        == 0
    )
    sidecar = json.loads(onnx.with_suffix(".json").read_text())
    assert (
        sidecar["classes"][:2] == ["road", "sidewalk"]
        and sidecar["label_mode"]["target"] == "bdd100k"
        and sidecar["to_label_id"] == list(range(19))
    )
    out = tmp_path / "paint"
    argv = [
        "--checkpoint",
        str(run / "best.pth"),
        "--set",
        f"paint.root={sample_root / 'kitti'}",
        "paint.split=testing",
        f"paint.output_dir={out}",
        "eval.num_workers=0",
        "eval.device=cpu",
    ]
    assert paint_points.main(argv) == 0
    metrics = json.loads((out / "paint_metrics.json").read_text())
    # BDD100K's classes are the Cityscapes train ids: the true point labels (label ids) score through them.
    assert (
        metrics["frames"] == 3
        and 0 <= metrics["point_accuracy"] <= 1
        and set(metrics["per_class"]) == set(sidecar["classes"])
    )


@pytest.mark.parametrize("family_run", ["folder"], indirect=True)
def test_the_python_predictor_gives_evals_class_maps(family_run):
    """Predictor.from_checkpoint, as the README shows it, predicts exactly what eval.py wrote (same TTA and DropClusters)."""
    from utils.evaluation.predictor import Predictor

    target, run, root = family_run
    out = run / "eval_predictor"
    assert run_eval(run, root, f"eval.output_dir={out}", "eval.tta=hflip", "eval.drop_clusters=8") == 0
    predictor = Predictor.from_checkpoint(run / "best.pth", device="cpu", tta="hflip", drop_clusters=8)
    fam = dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={root}"]))
    items = fam.items("val")
    images = [cv2.cvtColor(cv2.imread(str(i.image)), cv2.COLOR_BGR2RGB) for i in items]
    maps = predictor(images)
    assert predictor.names == list(fam.labels().names) and predictor.size == [64, 128]
    for item, image, classes in zip(items, images, maps):
        assert classes.shape == image.shape[:2] and classes.dtype == np.uint8
        written = fam.read_label(out / "results" / item.label.relative_to(root))
        assert (fam.labels().value_table()[classes] == written).all(), item.name
    probs = predictor.probabilities(images[0])
    assert (
        probs.shape == (4, *images[0].shape[:2])
        and probs.dtype == np.float32
        and predictor(images[0]).shape == images[0].shape[:2]
    )
    assert predictor.colorize(maps[0]).shape == (*images[0].shape[:2], 3)
    with pytest.raises(ValueError, match=r"RGB uint8 images of shape \(H, W, 3\).*image 0 is ndarray \(4, 4\) float64"):
        predictor(np.zeros((4, 4)))
