"""Two CPU processes under torchrun (gloo), started the way two real nodes are (torchrun --nnodes 2 --node_rank R
--rdzv_endpoint HOST:PORT): they train as one job, semi-supervised, each process drawing its own shard of the
unlabelled stream, and validation metrics reduce exactly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import free_port, tiny_overrides

from models.registry import build_model_from_config
from utils.checkpoint import load_checkpoint
from utils.config.loading import config_from_dict
from utils.data.families import build_labels
from utils.data.loaders import build_dataset, build_loader
from utils.data.unlabeled_dataset import StreamSampler
from utils.losses import build_loss
from utils.training.validation import validate

ROOT = Path(__file__).resolve().parents[2]


def test_torchrun_two_node_groups_train_as_one_job_and_reduce_metrics_exactly(sample_root, tmp_path):
    out, port = tmp_path / "ddp", free_port()
    # KITTI road with one val image: the second process validates nothing, which must not hang it.
    kitti = [
        "target=kitti",
        f"paths.root={sample_root / 'kitti'}",
        "dataset.labels=road",
        "dataset.val_fraction=0.1",
        "dataset.size=[64,192]",
    ]
    # DeepLabV3+ with its FCN auxiliary head: the extra output and its loss under DDP (FPN runs under SLURM's test).
    arch = ["model.arch=deeplabv3plus", "model.encoder=resnet18", "model.deeplabv3plus_aux_weight=0.4"]
    # Semi-supervised on KITTI's 3 testing images: 1 unlabelled image per process and micro-batch, EMA teacher.
    semi = ["unlabeled.split=test", "unlabeled.ratio=0.5", "unlabeled.teacher=ema", "unlabeled.threshold=0.5"]
    overrides = tiny_overrides(sample_root, out, "training.epochs=2", *kitti, *arch, *semi)
    # GLOO_SOCKET_IFNAME: the interface the node groups reach each other on.
    draws = tmp_path / "draws"
    draws.mkdir()
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "UNLABELED_DRAWS": str(draws)}
    nodes = []
    for node_rank in (0, 1):
        launch = (
            f"-m torch.distributed.run --nnodes 2 --node_rank {node_rank} --nproc_per_node 1 "
            f"--rdzv_endpoint 127.0.0.1:{port} --rdzv_conf timeout=60"
        ).split()
        script = "tests/training/record_unlabeled_draws.py"  # train.py, noting the unlabelled samples it draws
        cmd = [sys.executable, *launch, script, "--config_path", "configs/quickstart.yaml", "--set", *overrides]
        nodes.append(
            subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    logs = [node.communicate(timeout=240)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(log[-3000:] for log in logs)
    train_log = (out / "train.log").read_text()
    assert "batch 2 x 2 processes" in train_log  # one process group across both node groups
    history = json.loads((out / "metrics.json").read_text())
    assert len(history) == 2 and history[-1]["iteration"] == 4  # both epochs of one job: 2 steps each
    assert "unlabeled: 3 images (split test of kitti without labels); teacher ema" in train_log

    # Each process drew its own shard: positions 0, 2, 4, 6 of the one stream and 1, 3, 5, 7, nothing twice.
    ckpt = load_checkpoint(out / "last.pth")
    shards = [[tuple(json.loads(line)) for line in (draws / f"rank{r}.jsonl").read_text().splitlines()] for r in (0, 1)]
    stream = StreamSampler(3, ckpt["config"]["training"]["seed"])
    assert shards == [[stream.at(p) for p in range(r, 8, 2)] for r in (0, 1)]
    assert ckpt["unlabeled"]["position"] == 8 and ckpt["unlabeled"]["teacher"] is not None

    # One process over the same val set must agree with the metrics reduced over both.
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
