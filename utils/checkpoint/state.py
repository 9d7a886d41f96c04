"""What a checkpoint captures from a running process and gives back to one: every RNG stream, and model weights."""

import random

import numpy as np
import torch


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
    """Restores what :func:`rng_state` captured."""
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
