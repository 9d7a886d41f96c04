"""Checkpoints: atomic writes, safe loading (weights_only), RNG capture and weight transfer across class counts."""

import random
from pathlib import Path

import numpy as np
import torch

from utils.config.errors import UserError
from utils.files import atomic_write


def atomic_torch_save(obj, path) -> None:
    """``torch.save`` through :func:`utils.files.atomic_write`: a crash, a full disk or Ctrl-C mid-write
    leaves the previous file untouched and no temporary file behind; a failed write names its cause."""
    atomic_write(path, lambda f: torch.save(obj, f))


def load_checkpoint(path, map_location="cpu") -> dict:
    """Loads a checkpoint with ``torch.load(weights_only=True)``; a bad path or file is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"Checkpoint '{path}' does not exist. Train first, or pass the right --checkpoint / eval.checkpoint / "
            "training.init_from."
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise UserError(
            f"Checkpoint '{path}' cannot be read ({type(exc).__name__}: {exc}). It may be truncated or not a "
            "checkpoint of this toolkit."
        ) from None
    if isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        ckpt = {"model": ckpt}  # a bare state dict, e.g. torch.save(model.state_dict(), path)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise UserError(
            f"Checkpoint '{path}' holds no model weights (neither a 'model' state dict nor a bare one); it was not "
            "written by this toolkit."
        )
    return ckpt


def rng_state() -> dict:
    """Every RNG a training step touches, in types ``weights_only`` loading accepts."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this process's own device
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def transfer_weights(model: torch.nn.Module, state_dict: dict) -> list:
    """Copies every tensor whose name and shape match; returns the names left at their fresh values.

    This is how a Cityscapes run starts a KITTI one: the head of another class count is skipped and
    stays re-initialised.
    """
    own = model.state_dict()
    matching = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matching, strict=False)
    return sorted(k for k in own if k not in matching)
