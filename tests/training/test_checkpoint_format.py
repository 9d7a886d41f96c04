"""The checkpoint format: format 3 as written today, every older file migrated to it (today's format 2 evaluated,
exported, predicted with, started from and resumed), and a newer one stopping with one line."""

import json
import logging
import shutil

import cv2
import numpy as np
import pytest
import torch
from conftest import tiny_overrides

import eval as eval_script
import export as export_script
import train
from utils.checkpoint import FORMAT_VERSION, Checkpoint, load_checkpoint, migrate
from utils.config.errors import EXIT_USER_ERROR
from utils.config.loading import load_config
from utils.evaluation.predictor import Predictor
from utils.training.setup import build_training_parts

FORMAT_3_KEYS = {
    "format_version",
    "model",
    "config",
    "labels",
    "stage",
    "epoch",
    "epoch_progress",
    "global_step",
    "best",
    "key_metric",
    "history",
    "curves",
    "optimizer",
    "schedule",
    "scaler",
    "rng",
}
# What Trainer.save and training.setup.checkpoint_meta wrote before format 3: the classes twice.
FORMAT_2_KEYS = FORMAT_3_KEYS | {"class_names", "palette"}


def as_format_2(ckpt: dict) -> dict:
    """A format-3 dict as the code before format 3 wrote it: class_names and palette beside labels, version 2."""
    labels = ckpt["labels"]
    old = {**ckpt, "class_names": list(labels["names"]), "palette": [list(c) for c in labels["colors"]]}
    old["format_version"] = 2
    assert set(old) == FORMAT_2_KEYS
    return old


def same(a, b) -> bool:
    """Nested dicts, lists and tensors equal, tensors bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN metrics


def overrides(sample_root, out, *extra) -> list:
    return ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *extra)]


@pytest.fixture(scope="module")
def run(tiny_run):
    """Today's code, one epoch of 2 steps (the session's shared run, read only): best.pth and last.pth in format 3."""
    return tiny_run


@pytest.fixture(scope="module")
def format_2_run(run, tmp_path_factory):
    """The same run folder, its best.pth and last.pth rewritten as format-2 files."""
    out = tmp_path_factory.mktemp("format_2") / "run"
    shutil.copytree(run, out)
    for name in ("best.pth", "last.pth"):
        torch.save(as_format_2(torch.load(out / name, weights_only=True)), out / name)
    return out


def test_format_3_holds_the_classes_once(run):
    ckpt = torch.load(run / "last.pth", weights_only=True)
    # Format 4 only adds a semi-supervised run's state: a run without one is still written as format 3.
    assert set(ckpt) == FORMAT_3_KEYS and ckpt["format_version"] == 3 and FORMAT_VERSION == 4
    record = Checkpoint.from_dict(ckpt)
    assert record.class_names[0] == "void" and record.palette == ckpt["labels"]["colors"]
    assert same(record.to_dict(), ckpt)  # the record loses nothing


def test_every_older_shape_migrates_to_what_format_3_writes(run):
    today = torch.load(run / "last.pth", weights_only=True)
    assert same(migrate(as_format_2(today), "x.pth"), today)
    # Format 1 had no labels: they are rebuilt from its config, as its training built them.
    format_1 = {k: v for k, v in as_format_2(today).items() if k != "labels"} | {"format_version": 1}
    assert same(migrate(format_1, "x.pth"), today)
    # A bare state dict and a weights-only file: weights, and nothing to resume.
    for raw in (today["model"], {"model": today["model"]}):
        record = Checkpoint.from_dict(migrate(raw, "x.pth"))
        assert same(record.model, today["model"]) and not record.resumable and record.labels is None


def test_eval_export_and_predictor_read_a_format_2_checkpoint(format_2_run, run, sample_root, tmp_path):
    best = format_2_run / "best.pth"
    names = load_checkpoint(best)["labels"]["names"]
    data = f"paths.root={sample_root / 'cityscapes'}"
    out = tmp_path / "eval"
    argv = ["--checkpoint", str(best), "--set", data, f"eval.output_dir={out}", "eval.num_workers=0", "eval.device=cpu"]
    assert eval_script.main([*argv, "eval.official=false", "eval.max_images=0"]) == 0
    assert list(json.loads((out / "metrics.json").read_text())["per_class"]) == names
    assert export_script.main(["--checkpoint", str(best), "--check_images", "1", "--set", data]) == 0
    assert json.loads((format_2_run / "model.json").read_text())["classes"] == names
    image = next((sample_root / "cityscapes" / "leftImg8bit" / "val").rglob("*.png"))
    rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    old, new = Predictor.from_checkpoint(best, device="cpu"), Predictor.from_checkpoint(run / "best.pth", device="cpu")
    assert old.names == names and np.array_equal(old(rgb), new(rgb))


def test_init_from_and_resume_read_a_format_2_checkpoint(format_2_run, sample_root, tmp_path):
    last = format_2_run / "last.pth"
    old = torch.load(last, weights_only=True)
    cfg = load_config(
        "configs/quickstart.yaml", tiny_overrides(sample_root, tmp_path / "new", f"training.init_from={last}")
    )
    parts = build_training_parts(cfg, torch.device("cpu"), logging.getLogger("test"), items={})
    assert same(parts.model.state_dict(), old["model"])  # the same classes: every tensor taken

    resumed = tmp_path / "resumed"
    shutil.copytree(format_2_run, resumed)
    assert train.main([*overrides(sample_root, resumed, "training.epochs=2"), "--resume"]) == 0
    ckpt = load_checkpoint(resumed / "last.pth")
    assert (ckpt["global_step"], ckpt["epoch"], len(ckpt["history"])) == (4, 2, 2)
    assert same(ckpt["history"][0], old["history"][0]) and ckpt["format_version"] == 3
    assert "resuming from" in (resumed / "train.log").read_text()


def test_a_newer_format_stops_eval_and_resume_in_one_line(run, sample_root, tmp_path, capsys):
    newer = tmp_path / "run"
    shutil.copytree(run, newer)
    for name in ("best.pth", "last.pth"):
        ckpt = torch.load(newer / name, weights_only=True)
        torch.save({**ckpt, "format_version": 99}, newer / name)
    before = (newer / "last.pth").read_bytes()
    calls = [
        (eval_script, ["--checkpoint", str(newer / "best.pth"), "--set", "eval.device=cpu"], "best.pth"),
        (train, [*overrides(sample_root, newer), "--resume"], "last.pth"),
    ]
    for script, argv, name in calls:
        capsys.readouterr()
        assert script.run_main(script.main, argv) == EXIT_USER_ERROR
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in err, err
        assert errors[0] == (
            f"error: Checkpoint '{newer / name}' has format_version 99, written by a newer version of this toolkit; "
            "this one reads up to 4. Update the toolkit to load it."
        )
    assert (newer / "last.pth").read_bytes() == before
