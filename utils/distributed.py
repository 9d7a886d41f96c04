"""Process-group helpers that return single-process defaults when torch.distributed is not in use.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them, ``srun`` (one task per GPU) sets SLURM_PROCID,
SLURM_NTASKS and SLURM_LOCALID. Everything else in the toolkit asks these helpers instead of branching on
"am I distributed".
"""

import os
import re
from datetime import timedelta
from typing import Optional

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sums ``tensor`` in place over all processes (a no-op in a single process)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Rank 0's buffers (BatchNorm's running statistics) on every process (a no-op in a single process).

    DDP broadcasts them at the start of each forward, so after the last training step every process holds the
    statistics of its own last batch; validating without this would mix them, and last.pth holds rank 0's.
    """
    if is_distributed():
        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=0)


def all_reduce_min(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise minimum over all processes, in place (a no-op in a single process)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor


def first_slurm_host(nodelist: str) -> str:
    """The first host of a compressed SLURM node list: ``gpu[07-08,11],cpu01`` -> ``gpu07`` (as ``scontrol show hostnames | head -1``)."""
    first = re.split(r",(?![^\[]*\])", nodelist.strip())[0]  # a comma outside brackets separates hosts
    return re.sub(r"\[([^\]-]+)[^\]]*\]", r"\1", first)  # each bracket's first index, zero padding kept


def slurm_master_port(job_id: str) -> int:
    """A port per job, so two jobs sharing a node do not collide; below Linux's ephemeral range (32768+)."""
    return 20000 + int(job_id) % 10000 if job_id.isdigit() else 29500


def process_group_spec() -> Optional[dict]:
    """rank, world_size, local_rank and the rendezvous address from torchrun or, without it, SLURM; None for one process."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:  # torchrun, also under `srun torchrun` (one task per node)
        spec = {
            "rank": int(env["RANK"]),
            "world_size": int(env["WORLD_SIZE"]),
            "local_rank": int(env.get("LOCAL_RANK", 0)),
            "init_method": "env://",
            "launcher": "torchrun",
        }
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:  # `srun python train.py`, one task per GPU
        host = env.get("MASTER_ADDR") or first_slurm_host(env.get("SLURM_JOB_NODELIST", "127.0.0.1"))
        port = int(env.get("MASTER_PORT") or slurm_master_port(env.get("SLURM_JOB_ID", "")))
        spec = {
            "rank": int(env["SLURM_PROCID"]),
            "world_size": int(env["SLURM_NTASKS"]),
            "local_rank": int(env.get("SLURM_LOCALID", 0)),
            "init_method": f"tcp://{host}:{port}",
            "launcher": "SLURM",
        }
    else:
        return None
    return spec if spec["world_size"] > 1 else None


def init_distributed(device_type: str) -> int:
    """Joins the process group torchrun or SLURM describes; returns the CUDA device index (0 for one process).

    NCCL on CUDA, gloo on CPU. A generous timeout keeps a slow rank-0 checkpoint write from
    killing the job, while a real hang still ends with an error instead of forever.
    """
    spec = process_group_spec()
    if spec is None:
        return 0
    device_index = spec["local_rank"]
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        # srun --gpus-per-task=1 shows each task only its own GPU: the local rank then counts past them.
        device_index %= max(torch.cuda.device_count(), 1)
        torch.cuda.set_device(device_index)
    dist.init_process_group(
        backend=backend,
        init_method=spec["init_method"],
        rank=spec["rank"],
        world_size=spec["world_size"],
        timeout=timedelta(minutes=30),
    )
    return device_index


def cleanup_distributed() -> None:
    if is_distributed():
        dist.destroy_process_group()


def all_gather_objects(obj) -> list:
    """Every process's ``obj``, in rank order (``[obj]`` in a single process)."""
    if not is_distributed():
        return [obj]
    out = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out
