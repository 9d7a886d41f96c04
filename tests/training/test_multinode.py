"""Two node groups on this machine, started the way two real nodes are: torchrun --nnodes 2 --node_rank R --rdzv_endpoint HOST:PORT."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from conftest import tiny_overrides

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_with_static_rendezvous_train_as_one_job(sample_root, tmp_path):
    out, port = tmp_path / "two_nodes", _free_port()
    env = {
        **os.environ,
        "GLOO_SOCKET_IFNAME": "lo",
        "OMP_NUM_THREADS": "1",
    }  # the interface the nodes reach each other on
    overrides = tiny_overrides(sample_root, out)
    nodes = []
    for node_rank in (0, 1):
        launch = f"-m torch.distributed.run --nnodes 2 --node_rank {node_rank} --nproc_per_node 1 --rdzv_endpoint 127.0.0.1:{port} --rdzv_conf timeout=60".split()
        cmd = [sys.executable, *launch, "train.py", "--config_path", "configs/quickstart.yaml", "--set", *overrides]
        nodes.append(
            subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    logs = [node.communicate(timeout=150)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(log[-2000:] for log in logs)
    train_log = (out / "train.log").read_text()
    assert "batch 2 x 2 processes" in train_log  # one process group across both node groups
    history = json.loads((out / "metrics.json").read_text())
    assert len(history) == 1 and history[0]["iteration"] == 2
