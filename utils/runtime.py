"""Process-wide switches: device choice, seeds, determinism, cuDNN, autocast, the model's memory format and console logging."""

import logging
import os
import random
import signal
import sys
import threading
from contextlib import contextmanager, nullcontext

import numpy as np
import torch

from utils.config.errors import UserError
from utils.distributed import init_distributed, is_main_process, process_group_spec

LOGGER_NAME = "segtool"


def resolve_device(name: str) -> torch.device:
    """training.device / eval.device: auto (CUDA when visible), cpu or cuda; cuda without a GPU is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("training.device / eval.device is 'cuda' but no CUDA GPU is visible. Set it to auto or cpu.")
    return torch.device(name)


def setup_device(device_name: str) -> torch.device:
    """Resolves auto/cpu/cuda and joins the torchrun or SLURM process group if there is one."""
    device = resolve_device(device_name)
    spec = process_group_spec()
    if spec is not None and spec["rank"] == 0:  # said before joining: a job that waits for a missing task shows why
        setup_console_logging().info(
            f"joining a process group of {spec['world_size']} processes ({spec['launcher']}, rendezvous "
            f"{spec['init_method']})"
        )
    index = init_distributed(device.type)
    return torch.device("cuda", index) if device.type == "cuda" else device


def seed_everything(seed: int, deterministic: bool, cudnn_benchmark: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace for reproducible matmuls on CUDA.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = cudnn_benchmark and not deterministic
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def amp_dtype(device: torch.device, amp: str):
    """The autocast dtype, or None when mixed precision is off (always off on the CPU)."""
    if device.type != "cuda" or amp == "none":
        return None
    return torch.bfloat16 if amp == "bf16" else torch.float16


def autocast(device: torch.device, dtype):
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else nullcontext()


def memory_format(device: torch.device, channels_last: bool):
    return torch.channels_last if channels_last and device.type == "cuda" else torch.contiguous_format


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def setup_console_logging() -> logging.Logger:
    """The toolkit's logger, printing bare messages to stdout; quiet on every process but the main one."""
    log = get_logger()
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO if is_main_process() else logging.WARNING)
    return log


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM (scancel, a SLURM preemption or time limit, docker stop, torchrun ending a job) unwinds like Ctrl-C.

    Python's default is to die at once; this way every ``finally`` runs (the run folder's lock is removed)
    and the exit is 130. A second SIGTERM during that clean-up is ignored; SIGKILL follows it anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
