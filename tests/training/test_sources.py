"""Several datasets in one label space (dataset.sources): the weighted mixing sampler, a run over several families
with per-source validation that resumes mid-epoch exactly, the prepared cache and inspect per source, and each
mistake in the list ending in one line."""

import json
import re
from collections import Counter

import cv2
import numpy as np
import pytest
from conftest import assert_same_training, tiny_overrides, train_quickstart
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
from eval import main as eval_main
from utils.checkpoint import load_checkpoint
from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.config.loading import config_from_dict
from utils.data import inspect, prepare
from utils.data.source_mix import MixedSourceSampler
from utils.data.sources import training_sources
from utils.evaluation.eval_config import merged_config
from utils.training.setup import build_stage_loaders
from utils.training.validation import scored_where_labelled


def sources_yaml(sample_root) -> str:
    """Cityscapes (label ids), BDD100K (train ids) and Vistas (v2.0 config indices through the project's table)."""
    return (
        f"[{{target: cityscapes, root: {sample_root / 'cityscapes'}, weight: 2}}, "
        f"{{target: bdd100k, root: {sample_root / 'bdd100k'}}}, "
        f"{{target: vistas, root: {sample_root / 'vistas'}, name: mapillary}}]"
    )


def argv(sample_root, out, *extra, resume=False) -> list:
    overrides = tiny_overrides(
        sample_root, out, f"dataset.sources={sources_yaml(sample_root)}", "dataset.size=[32,64]", *extra
    )
    return ["--config_path", "configs/quickstart.yaml", "--set", *overrides] + (["--resume"] if resume else [])


def test_the_sampler_draws_sources_by_weight_and_resumes_at_the_same_position():
    sampler = MixedSourceSampler([5, 100], [3.0, 1.0], seed=7)
    sampler.set_epoch(2)
    order = [i for i, _ in sampler]
    assert len(order) == 105 and sampler.positions(105)[0] == sum(i < 5 for i in order)
    small = Counter(i for i in order if i < 5)
    assert 0.6 < sum(small.values()) / 105 < 0.9  # weight 3 of 4
    assert max(small.values()) - min(small.values()) <= 1  # the small source goes round its own permutation
    again = MixedSourceSampler([5, 100], [3.0, 1.0], seed=7)
    again.set_epoch(2)
    again.skip(40)
    assert [i for i, _ in again] == order[40:]  # a resume continues every source where it was
    again.set_epoch(3)
    again.skip(0)
    assert [i for i, _ in again] != order
    ranks = [MixedSourceSampler([5, 100], [3.0, 1.0], 7, rank=r, world_size=2) for r in (0, 1)]
    for r in ranks:
        r.set_epoch(2)
    shards = [[i for i, _ in r] for r in ranks]
    assert shards[0] == order[0::2] and shards[1] == order[1::2] + order[:1]  # padded to equal steps


def test_three_sources_train_into_19_classes_validate_each_and_resume_exactly(sample_root, tmp_path, monkeypatch):
    extra = ["training.epochs=2", "training.checkpoint_every_iters=3", "training.iters_per_epoch=2"]
    assert train.main(argv(sample_root, tmp_path / "straight", *extra)) == 0
    real, calls = train.Trainer._optimizer_step, {"n": 0}

    def killed_in_the_second_epoch(self, *args):
        calls["n"] += 1
        if calls["n"] == 4:  # last.pth holds step 3, one batch into epoch 2
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(train.Trainer, "_optimizer_step", killed_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train.main(argv(sample_root, tmp_path / "resumed", *extra))
    assert load_checkpoint(tmp_path / "resumed" / "last.pth")["epoch_progress"]["samples"] == 2
    monkeypatch.setattr(train.Trainer, "_optimizer_step", real)
    assert train.main(argv(sample_root, tmp_path / "resumed", *extra, resume=True)) == 0
    assert_same_training(tmp_path / "straight", tmp_path / "resumed", steps=4)

    out = tmp_path / "straight"
    history = json.loads((out / "metrics.json").read_text())
    last = history[-1]
    assert list(last["per_source"]) == ["cityscapes", "bdd100k", "mapillary"]
    assert last["miou"] == pytest.approx(np.mean([m["miou"] for m in last["per_source"].values()]))
    assert len(last["per_class"]) == 19
    ckpt = load_checkpoint(out / "best.pth")
    assert ckpt["labels"]["names"][0] == "road" and len(ckpt["labels"]["names"]) == 19
    assert ckpt["best"] == max(r["miou"] for r in history)  # best.pth follows the mean
    log = (out / "train.log").read_text()
    assert "sources: cityscapes 8 train (50% of draws), 5 val; bdd100k 4 train (25% of draws), 3 val" in log
    line = re.search(r"epoch 2/2 .*", log).group(0)
    assert re.search(r"per source mIoU cityscapes [\d.]+, bdd100k [\d.]+, mapillary [\d.]+", line)
    # eval.py on one of the sources finds its root and scores its ground truth in the run's 19 classes
    scoring = ["target=vistas", f"paths.output_dir={out}", "eval.num_workers=0", f"eval.output_dir={tmp_path / 'v'}"]
    assert eval_main(["--config_path", "configs/quickstart.yaml", "--set", *scoring]) == 0
    scored = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert scored["class_mapping"]["description"].startswith("vistas v2.0 -> cityscapes19")
    assert scored["images"] == 3 and len(scored["per_class"]) == 19
    # paint_points.py reads its KITTI frames where the user's file says, whatever the sources were
    paint = tmp_path / "paint.yaml"
    paint.write_text(f"target: kitti\npaths:\n  root: {sample_root / 'kitti'}\n")
    cfg, _, _ = merged_config(paint, str(out / "best.pth"), [], paint_frames=True)
    assert cfg.paths.root == str(sample_root / "kitti")
    # on a family none of the sources is: the label mode of the run's 19 classes (its top-level categories never read)
    cfg, _, _ = merged_config(None, str(out / "best.pth"), ["target=kitti_semantics"])
    assert cfg.dataset.labels == "classes" and cfg.dataset.sources == []
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    tags = events.Tags()["scalars"]
    assert {"val_cityscapes/miou", "val_bdd100k/miou", "val_mapillary/miou", "val/miou"} <= set(tags)
    assert events.Scalars("val_mapillary/miou")[-1].value == pytest.approx(last["per_source"]["mapillary"]["miou"])


def test_each_source_has_its_prepared_cache_and_its_inspect_report(sample_root, tmp_path, capsys):
    overrides = [
        f"dataset.sources={sources_yaml(sample_root)}",
        "dataset.size=[32,64]",
        f"dataset.cache_dir={tmp_path}",
        "training.num_workers=0",
    ]
    assert prepare.main(["--config_path", "configs/quickstart.yaml", "--set", *overrides, "--workers", "1"]) == 0
    assert len(list(tmp_path.glob("train_32x64_*"))) == 3  # one cache per source
    cfg = config_from_dict({}, overrides)
    items = {split: {s.name: s.family.items(split) for s in training_sources(cfg)} for split in ("train", "val")}
    train_loader, val_loaders = build_stage_loaders(cfg, None, items, [32, 64], 2, __import__("torch").device("cpu"))
    assert all(d.cache is not None for d in train_loader.dataset.datasets)
    assert all(loader.dataset.cache is not None for loader in val_loaders.values())

    report = tmp_path / "inspect.json"
    args = ["--config_path", "configs/quickstart.yaml", "--set", *overrides, "--out", str(tmp_path)]
    assert inspect.main([*args, "--json", str(report), "--workers", "1"]) == 0
    result = json.loads(report.read_text())
    assert list(result["sources"]) == ["cityscapes", "bdd100k", "mapillary"]
    assert (
        result["merged"]["classes"] == result["sources"]["mapillary"]["classes"]
        and len(result["merged"]["classes"]) == 19
    )
    shares = {name: r["train"]["road"]["share"] for name, r in result["sources"].items()}
    assert min(shares.values()) <= result["merged"]["train"]["road"]["share"] <= max(shares.values())
    assert (tmp_path / "inspect.png").is_file()


@pytest.mark.parametrize(
    "change, message",
    [
        ("dataset.sources=[{target: kitti, root: ROOT/kitti}]", "dataset.sources[0].target' is kitti, whose labels"),
        (
            "dataset.sources=[{target: bdd100k, root: ROOT/bdd100k}, {target: bdd100k, root: ROOT/bdd100k}]",
            "two sources are named 'bdd100k'",
        ),
        ("dataset.sources=[{target: bdd100k, root: ''}]", "dataset.sources[0].root' is empty"),
        ("dataset.sources=[{target: cityscape, root: ROOT/cityscapes}]", "Did you mean 'cityscapes'?"),
        (
            "dataset.sources=[{target: bdd100k, root: ROOT/bdd100k, weight: 0}]",
            "sources[0].weight' is 0.0; it must be positive",
        ),
        ("dataset.sources=[{target: bdd100k, root: ROOT/bdd100k, name: b/d}]", "dataset.sources[0].name' is 'b/d'"),
        ("dataset.taxonomy=ROOT/driving.yaml", "dataset.sources is empty: a taxonomy is what several sources train"),
    ],
)
def test_a_wrong_source_stops_in_one_line_before_the_run_folder(sample_root, tmp_path, capsys, change, message):
    out = tmp_path / "run"
    args = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out)]
    assert train.run_main(train.main, args + [change.replace("ROOT", str(sample_root))]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_a_taxonomy_file_merges_and_drops_cityscapes_classes(sample_root, tmp_path):
    taxonomy = tmp_path / "driving.yaml"
    taxonomy.write_text(
        "classes:\n"
        "  - {name: drivable, maps_to: road, color: [128, 64, 128]}\n"
        "  - {name: vehicle, maps_to: [car, truck, bus, train]}\n"
        "  - {name: vulnerable, maps_to: [person, rider, bicycle, motorcycle]}\n"
    )
    overrides = [f"dataset.taxonomy={taxonomy}", f"dataset.sources={sources_yaml(sample_root)}"]
    cityscapes, bdd, _ = training_sources(config_from_dict({}, overrides))
    assert cityscapes.labels.names == ("drivable", "vehicle", "vulnerable")
    # Cityscapes label ids: road 7, car 26, truck 27, person 24, bicycle 33, sky 23; BDD100K train ids: road 0, bus 15
    assert cityscapes.labels.lut[[7, 26, 27, 24, 33, 23]].tolist() == [0, 1, 1, 2, 2, 255]
    assert bdd.labels.lut[[0, 15, 10]].tolist() == [0, 1, 255]

    # A run in this taxonomy, scored by eval.py on one of its sources: the ground truth goes through the same table.
    out, two = tmp_path / "run", f"dataset.sources=[{{target: bdd100k, root: {sample_root / 'bdd100k'}}}]"
    extra = [f"dataset.taxonomy={taxonomy}", two, "dataset.size=[32,64]", "training.iters_per_epoch=1"]
    assert train_quickstart(sample_root, out, *extra) == 0
    scoring = ["target=bdd100k", f"paths.output_dir={out}", "eval.num_workers=0", "eval.tta=none"]
    assert eval_main(["--config_path", "configs/quickstart.yaml", "--set", *scoring, "eval.drop_clusters=0"]) == 0
    scored = json.loads((out / "eval" / "metrics.json").read_text())
    assert scored["class_mapping"]["kind"] == "ground_truth" and list(scored["per_class"]) == list(
        cityscapes.labels.names
    )
    to_taxonomy = bdd.labels.lut  # BDD100K's train ids -> drivable, vehicle, vulnerable
    matrix = np.zeros((3, 4), np.int64)
    for mask in sorted((sample_root / "bdd100k" / "bdd100k" / "labels" / "sem_seg" / "masks" / "val").glob("*.png")):
        gt = to_taxonomy[cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)]
        pred = cv2.imread(
            str(out / "eval" / "results" / mask.relative_to(sample_root / "bdd100k")), cv2.IMREAD_UNCHANGED
        )
        keep = gt < 3
        np.add.at(matrix, (gt[keep], np.minimum(pred[keep], 3)), 1)
    tp = np.diag(matrix[:, :3])
    iou = tp / (matrix.sum(1) + matrix[:, :3].sum(0) - tp)
    assert [scored["per_class"][n]["iou"] for n in cityscapes.labels.names] == pytest.approx(iou.tolist(), abs=1e-9)

    taxonomy.write_text("classes:\n  - {name: a, maps_to: car}\n  - {name: b, maps_to: [cars]}\n")
    with pytest.raises(UserError, match=r"classes\[1\] \('b'\) maps_to 'cars'.*Did you mean 'car'"):
        training_sources(config_from_dict({}, overrides))
    taxonomy.write_text("classes:\n  - {name: a, maps_to: car}\n  - {name: b, maps_to: [bus, car]}\n")
    with pytest.raises(UserError, match="'car' is in the maps_to of both 'a' and 'b'"):
        training_sources(config_from_dict({}, overrides))
    for body, message in (
        ("{name: a, maps_to: 5}", r"classes\[0\] \('a'\) has maps_to 5; it must be a Cityscapes class name or a list"),
        ("{name: a, maps_to: car, color: [300, 1, 2]}", r"classes\[0\].color is \[300, 1, 2\]; it must be \[R, G, B\]"),
    ):
        taxonomy.write_text(f"classes:\n  - {body}\n")
        with pytest.raises(UserError, match=message):
            training_sources(config_from_dict({}, overrides))


def test_each_source_reads_its_own_familys_keys(sample_root):
    kitti_semantics = f"{{target: kitti_semantics, root: {sample_root / 'kitti_semantics'}}}"
    sources = f"dataset.sources=[{{target: cityscapes, root: {sample_root / 'cityscapes'}}}, {kitti_semantics}]"
    cityscapes, kitti = training_sources(config_from_dict({}, [sources, "dataset.val_fraction=0.4"]))
    assert kitti.cfg.dataset.val_fraction == 0.4 and cityscapes.cfg.dataset.val_fraction == 0.2  # Cityscapes' default
    assert len(kitti.family.items("val")) == round(0.4 * 5)


def test_a_source_is_scored_on_the_classes_its_labels_reach():
    per_class = {"road": {"iou": 0.9, "dice": 0.95}, "car": {"iou": 0.0, "dice": 0.0}, "sky": {"iou": 0.5, "dice": 0.6}}
    metrics = {"miou": 0.4667, "mean_dice": 0.5167, "pixel_acc": 0.9, "per_class": per_class}
    lut = np.full(256, 255, np.uint8)
    lut[[3, 7]] = [0, 2]  # this source labels road and sky, never car
    scored = scored_where_labelled(metrics, ("road", "car", "sky"), lut)
    assert np.isnan(scored["per_class"]["car"]["iou"]) and scored["miou"] == pytest.approx(0.7)
    assert scored["mean_dice"] == pytest.approx(0.775) and scored["pixel_acc"] == 0.9
    lut[9] = 1
    assert scored_where_labelled(metrics, ("road", "car", "sky"), lut) is metrics
