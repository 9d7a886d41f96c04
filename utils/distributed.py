"""Process-group helpers that return single-process defaults when torch.distributed is not in use.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; everything else in the toolkit asks these helpers
instead of branching on "am I distributed".
"""

import os
from datetime import timedelta

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


def all_reduce_min(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise minimum over all processes, in place (a no-op in a single process)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor


def init_distributed(device_type: str) -> int:
    """Joins the process group torchrun describes; returns the local rank (0 when not launched by torchrun).

    NCCL on CUDA, gloo on CPU. A generous timeout keeps a slow rank-0 checkpoint write from
    killing the job, while a real hang still ends with an error instead of forever.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
        return 0
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    return local_rank


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
