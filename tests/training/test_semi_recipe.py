"""The sample's semi-supervised recipe and its labelled-only twin, a short version of ``python -m
benchmarks.semi_supervised``: both runs train on the same labelled images at the same schedule, and only the
semi-supervised one learns from the unlabelled rest."""

import json

from conftest import ROOT

from benchmarks import semi_supervised

RECIPE = str(ROOT / "configs" / "sample_semi_supervised.yaml")


def test_the_recipe_and_its_labelled_only_twin_give_both_figures(sample_root, tmp_path):
    overrides = [
        f"paths.root={sample_root / 'cityscapes'}",
        "dataset.train_fraction=0.25",  # 2 of the small sample's 8 train images; the other 6 are the unlabelled ones
        "dataset.size=[32,64]",
        "dataset.crop_size=[32,64]",
        "training.device=cpu",
        "training.num_workers=0",
        "training.batch_size=2",
        "training.max_iters=2",
        "training.warmup_iters=0",
        "training.val_every_iters=0",
        "unlabeled.start_iters=1",
        "model.encoder=resnet18",
    ]
    out, figures = tmp_path / "runs", tmp_path / "semi.json"
    assert (
        semi_supervised.main(["--out", str(out), "--json", str(figures), "--set", *overrides, "--config_path", RECIPE])
        == 0
    )
    report = json.loads(figures.read_text())
    twin, semi = out / "labelled_only", out / "semi_supervised"
    for name, run in (("labelled_only", twin), ("semi_supervised", semi)):
        history = json.loads((run / "metrics.json").read_text())
        assert report[name]["final_miou"] == history[-1]["miou"] and report[name]["steps"] == 2
    assert report["final_miou_gain"] == report["semi_supervised"]["final_miou"] - report["labelled_only"]["final_miou"]
    assert report["machine"]["torch"] and report["config"] == RECIPE
    # the same 2 labelled images in both; only the semi-supervised run drew unlabelled ones and logged their loss
    assert (twin / "train_list.txt").read_text() == (semi / "train_list.txt").read_text()
    assert len((semi / "train_list.txt").read_text().splitlines()) == 2
    log = (semi / "train.log").read_text()
    assert "unlabeled: 6 images (split train" in log and "threshold 0.95 (or each class's surest 0.5), weight 1" in log
    assert "unlabeled" not in (twin / "train.log").read_text()
    assert "unlabeled loss" in (semi / "train.log").read_text()  # the epoch line
