"""Encoder weights from a local file (``model.encoder_weights: <path>``), for machines without internet.

The file holds a whole classification model's state dict as torchvision and timm publish them (``.pth``,
``.pt``, ``.bin`` or ``.safetensors``; a ``state_dict`` / ``model`` wrapper and a ``module.`` prefix are
unwrapped by timm's loader). The classifier, which an encoder does not have, is skipped and counted;
anything else that does not fit the encoder is refused before a weight is copied.
"""

from pathlib import Path

import torch
from timm.models import load_state_dict
from torch import nn

from utils.config.errors import UserError
from utils.runtime import get_logger

SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
SHOWN = 3  # keys named in a message


def is_weights_file(weights) -> bool:
    """Whether ``model.encoder_weights`` names a file rather than ``imagenet`` or null."""
    return weights not in (None, "imagenet")


def few(keys: list) -> str:
    """The first keys of a list, for a message."""
    return ", ".join(keys[:SHOWN]) + (", ..." if len(keys) > SHOWN else "")


def read_state_dict(path: str) -> dict:
    """The tensors a checkpoint file holds, by key; a file that is not one is a UserError."""
    if Path(path).suffix.lower() not in SUFFIXES:
        raise UserError(
            f"model.encoder_weights '{path}' is neither imagenet, null nor a {' / '.join(SUFFIXES)} file of encoder "
            "weights; fix the value or the file name."
        )
    return read_tensors(path)


def read_tensors(path: str, what: str = "a state dict", missing_help: str = "") -> dict:
    """The tensors of a weights file (safetensors, or ``torch.load(weights_only=True)``; timm's loader unwraps a
    ``state_dict`` / ``model`` wrapper and a ``module.`` prefix). ``what`` the file should be and ``missing_help``
    (where to get it) go into the UserError a missing, unreadable or empty file gives."""
    file = Path(path)
    if not file.is_file():
        raise UserError(
            f"model.encoder_weights file '{path}' does not exist (relative paths start at {Path.cwd()}); copy the "
            f"weights there or fix the path.{' ' + missing_help if missing_help else ''}"
        )
    try:
        state = load_state_dict(str(file), use_ema=False)
    except Exception as exc:  # truncated, foreign or pickled-code files all mean the same to the user
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise UserError(
            f"model.encoder_weights file '{path}' cannot be read as {what} ({type(exc).__name__}: {reason}); "
            "download it again."
        ) from None
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)} if isinstance(state, dict) else {}
    if not tensors:
        raise UserError(f"model.encoder_weights file '{path}' holds no tensors; it must be {what}.")
    return tensors


def load_encoder_weights(encoder: nn.Module, path: str, full_keys, names: dict, model: str, source: str) -> None:
    """Copies the file's tensors into ``encoder``, skipping the classifier; refuses a file of another model.

    Args:
        encoder: the module the weights go into.
        path: the weights file.
        full_keys: every state-dict key of the whole classification model, as the file names them.
        names: each of the encoder's state-dict keys -> the whole model's key for the same tensor.
        model: what the file must hold, for messages, e.g. "torchvision's resnet18".
        source: where that file comes from, for messages, e.g. its download URL.
    """
    file = read_state_dict(path)
    own = encoder.state_dict()
    wanted = {names[k]: k for k in own}
    full_keys = set(full_keys)
    # Files saved before BatchNorm counted its batches lack num_batches_tracked; torch fills it in.
    missing = [k for k in wanted if k not in file and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in file if k not in full_keys and k not in wanted]
    wrong = [k for k in wanted if k in file and file[k].shape != own[wanted[k]].shape]
    problems = []
    if missing:
        problems.append(f"it lacks {len(missing)} of the encoder's {len(wanted)} tensors ({few(missing)})")
    if unexpected:
        problems.append(f"it has {len(unexpected)} tensors {model} does not have ({few(unexpected)})")
    if wrong:
        k = wrong[0]
        shapes = f"{k} is {list(file[k].shape)} in the file but {list(own[wanted[k]].shape)} in the encoder"
        problems.append(f"{len(wrong)} tensors have other shapes ({shapes}{', ...' if len(wrong) > 1 else ''})")
    if problems:
        ours = (
            " It looks like a checkpoint of this toolkit: start from it with training.init_from."
            if any(k.startswith("encoder.") for k in file)
            else ""
        )
        raise UserError(
            f"model.encoder_weights file '{path}' does not hold the weights of {model}: {'; '.join(problems)}. Use "
            f"{source} (README: Local encoder weights), or set model.encoder_weights: null.{ours}"
        )
    encoder.load_state_dict({k: file.get(names[k], own[k]) for k in own})
    loaded, skipped = sum(k in file for k in wanted), sorted(k for k in file if k not in wanted)
    get_logger().info(
        f"encoder weights from {path}: loaded {loaded} tensors; skipped {len(skipped)} classifier tensors"
        + (f" ({few(skipped)})" if skipped else "")
    )
