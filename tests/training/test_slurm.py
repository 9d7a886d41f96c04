"""`srun python train.py`: two local processes with only SLURM's variables (no torchrun) train as one job, on two
dataset sources (each validated on its own val split, sharded unevenly over the processes)."""

import json
import os
import random
import socket
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, tiny_overrides

from models.registry import build_model_from_config
from utils.checkpoint import load_checkpoint
from utils.config.loading import config_from_dict
from utils.data.sources import run_labels, training_sources
from utils.distributed import first_slurm_host, process_group_spec, slurm_master_port
from utils.losses import build_loss
from utils.training.setup import build_stage_loaders
from utils.training.validation import validate_sources

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(
    "nodelist, first",
    [
        ("gpu-07", "gpu-07"),
        ("gpu[07-08,11]", "gpu07"),
        ("node1,node2", "node1"),
        ("a[1-2],b[3-4]", "a1"),
        ("rack[1-2]-node[001-004]", "rack1-node001"),
    ],
)
def test_the_first_host_of_a_compressed_node_list(nodelist, first):
    assert first_slurm_host(nodelist) == first  # as `scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1`


def test_torchrun_variables_win_over_slurms(monkeypatch):
    # `srun torchrun ...` (one task per node): the workers see both; torchrun's describe the worker.
    for key, value in {
        "SLURM_PROCID": "1",
        "SLURM_NTASKS": "2",
        "SLURM_JOB_ID": "123",
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
    }.items():
        monkeypatch.setenv(key, value)
    assert process_group_spec() == {
        "rank": 5,
        "world_size": 8,
        "local_rank": 1,
        "init_method": "env://",
        "launcher": "torchrun",
    }
    for key in TORCHRUN_VARS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[07-08]")
    assert process_group_spec()["init_method"] == f"tcp://gpu07:{slurm_master_port('123')}"
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.7")
    monkeypatch.setenv("MASTER_PORT", "29999")
    assert process_group_spec()["init_method"] == "tcp://10.0.0.7:29999"
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert process_group_spec() is None  # one task: no process group


def test_two_srun_tasks_train_as_one_job(sample_root, tmp_path):
    out = tmp_path / "slurm"
    # The port comes from the job id, as on a cluster: pick a job id whose port is free here. A random start, so
    # that test runs of other checkouts on this machine do not all reach for the same port at once.
    start = random.randrange(10000)
    job_id = next(j for j in range(start, start + 100) if _port_free(slurm_master_port(str(j))))
    base = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARS and not k.startswith("SLURM_")}
    base.update(
        GLOO_SOCKET_IFNAME="lo",
        OMP_NUM_THREADS="1",
        SLURM_NTASKS="2",
        SLURM_JOB_ID=str(job_id),
        SLURM_JOB_NODELIST="localhost",
        SLURM_NNODES="1",
        SLURM_NODEID="0",
    )
    cmd = [
        sys.executable,
        "train.py",
        "--config_path",
        "configs/quickstart.yaml",
        "--set",
        *tiny_overrides(sample_root, out, f"dataset.sources={two_sources(sample_root)}"),
    ]
    tasks = [
        subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**base, "SLURM_PROCID": str(r), "SLURM_LOCALID": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in (0, 1)
    ]
    logs = [task.communicate(timeout=200)[0] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], "\n".join(log[-2000:] for log in logs)
    assert (
        f"joining a process group of 2 processes (SLURM, rendezvous tcp://localhost:{slurm_master_port(str(job_id))})"
        in logs[0]
    )
    assert (
        "batch 2 x 2 processes" in (out / "train.log").read_text()
    )  # one process group: each step takes a batch from both
    history = json.loads((out / "metrics.json").read_text())
    assert len(history) == 1 and history[0]["iteration"] == 2
    assert not (out / ".lock").exists()  # rank 0 held it and removed it

    # One process validating the trained model on both sources agrees with what the two reduced (BDD100K's 3 val
    # images: one process had 2, the other 1).
    ckpt = load_checkpoint(out / "last.pth")
    cfg = config_from_dict(ckpt["config"])
    labels = run_labels(cfg)
    model = build_model_from_config(cfg.model, labels.num_classes)
    model.load_state_dict(ckpt["model"])
    items = {split: {s.name: s.family.items(split) for s in training_sources(cfg)} for split in ("train", "val")}
    _, loaders = build_stage_loaders(cfg, labels, items, cfg.dataset.size, 2, torch.device("cpu"))
    loss = build_loss(cfg.training.loss, labels.num_classes, cfg.training.bce_weight)
    alone, _ = validate_sources(model, loaders, loss, labels, torch.device("cpu"), None, torch.contiguous_format, 0)
    for name in ("cityscapes", "bdd100k"):
        assert history[0]["per_source"][name]["miou"] == pytest.approx(alone["per_source"][name]["miou"], abs=1e-6)
    assert history[0]["miou"] == pytest.approx(alone["miou"], abs=1e-6)


def two_sources(sample_root) -> str:
    return (
        f"[{{target: cityscapes, root: {sample_root / 'cityscapes'}}}, {{target: bdd100k, root: "
        f"{sample_root / 'bdd100k'}}}]"
    )
