"""Two CPU processes under torchrun (gloo): training finishes and validation metrics reduce exactly."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from models.registry import build_model_from_config
from utils.checkpoint import load_checkpoint
from utils.config import config_from_dict
from utils.data.families import build_labels
from utils.data.loaders import build_dataset, build_loader
from utils.losses import build_loss
from utils.training.validation import validate

ROOT = Path(__file__).resolve().parents[2]


def test_torchrun_two_processes_reduce_metrics_exactly(sample_root, tmp_path):
    out = tmp_path / "ddp"
    # KITTI road with one val image: the second process validates nothing, which must not hang it.
    kitti = [
        "target=kitti",
        f"paths.root={sample_root / 'kitti'}",
        "dataset.labels=road",
        "dataset.val_fraction=0.1",
        "dataset.size=[64,192]",
    ]
    overrides = tiny_overrides(sample_root, out, "training.epochs=2", *kitti)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "train.py",
        "--config_path",
        "configs/quickstart.yaml",
        "--set",
        *overrides,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = json.loads((out / "metrics.json").read_text())
    assert len(history) == 2 and history[-1]["iteration"] == 4

    # One process over the same val set must agree with the metrics reduced over both.
    ckpt = load_checkpoint(out / "last.pth")
    cfg = config_from_dict(ckpt["config"])
    labels = build_labels(cfg.target, cfg.dataset.labels)
    model = build_model_from_config(cfg.model, labels.num_classes)
    model.load_state_dict(ckpt["model"])
    val_set = build_dataset(cfg, labels, "val", "val")
    assert len(val_set) == 1
    loader = build_loader(val_set, 2, 0, train=False)
    metrics, _ = validate(
        model,
        loader,
        build_loss(cfg.training.loss, labels.num_classes, cfg.training.bce_weight),
        labels,
        torch.device("cpu"),
        None,
        torch.contiguous_format,
    )
    assert metrics["miou"] == pytest.approx(history[-1]["miou"], abs=1e-12)
    # The dice term is taken per batch, and the shards batch images differently: close, not equal.
    assert metrics["val_loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-3)
