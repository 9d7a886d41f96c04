"""A checkpoint on disk: written atomically, read with ``weights_only=True``, older formats migrated on load.

Formats: 1 held the config, ``class_names`` and ``palette``; 2 added ``labels`` (the whole label set, names and
colours again included); 3 drops the two copies, so the classes live in ``labels`` only; 4 adds ``unlabeled`` (the
unlabelled stream's position and the EMA teacher of a semi-supervised run). Only semi-supervised runs write 4, so
that a toolkit older than semi-supervised training refuses to resume them instead of silently dropping their
unlabelled loss; every other file is still written as 3. A file without a ``format_version`` is a bare state dict or
a weights-only file someone wrote by hand.
"""

from pathlib import Path

import torch

from utils.config.errors import UserError
from utils.files import atomic_write

FORMAT_VERSION = 4  # the newest this toolkit reads and writes
SUPERVISED_FORMAT_VERSION = 3  # what a file without a semi-supervised state is written as


def atomic_torch_save(obj, path) -> None:
    """``torch.save`` through :func:`utils.files.atomic_write`: a crash, a full disk or Ctrl-C mid-write
    leaves the previous file untouched and no temporary file behind; a failed write names its cause."""
    atomic_write(path, lambda f: torch.save(obj, f))


def load_checkpoint(path, map_location="cpu") -> dict:
    """The file at ``path`` as a plain dict of the current format (see :func:`migrate`); a bad path or file is a
    UserError. The toolkit itself reads checkpoints as records: ``Checkpoint.load(path)``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"Checkpoint '{path}' does not exist. Train first, or pass the right --checkpoint / eval.checkpoint / "
            "training.init_from."
        )
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise UserError(
            f"Checkpoint '{path}' cannot be read ({type(exc).__name__}: {exc}). It may be truncated or not a "
            "checkpoint of this toolkit."
        ) from None
    return migrate(raw, path)


def migrate(raw, path) -> dict:
    """Any checkpoint this toolkit ever wrote, or a bare state dict, as a dict of today's format (its
    ``format_version``: :func:`format_version_of`).

    A newer format is a one-line UserError naming the version: its meaning is unknown here, and guessing could
    load the wrong classes. ``path`` is only for messages.
    """
    if isinstance(raw, dict) and raw and all(isinstance(v, torch.Tensor) for v in raw.values()):
        raw = {"model": raw}  # a bare state dict, e.g. torch.save(model.state_dict(), path)
    if not isinstance(raw, dict) or not isinstance(raw.get("model"), dict):
        raise UserError(
            f"Checkpoint '{path}' holds no model weights (neither a 'model' state dict nor a bare one); it was not "
            "written by this toolkit."
        )
    version = raw.get("format_version") or 0  # none: a bare or hand-written file, the oldest shape
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UserError(
            f"Checkpoint '{path}' has format_version {version}, written by a newer version of this toolkit; this one "
            f"reads up to {FORMAT_VERSION}. Update the toolkit to load it."
        )
    out = {k: v for k, v in raw.items() if k not in ("class_names", "palette")}
    if version < 2 and "labels" not in out and "class_names" in raw:
        labels = _format_1_labels(out.get("config"), raw["class_names"])
        if labels is not None:
            out["labels"] = labels
    out["format_version"] = format_version_of(out)
    return out


def format_version_of(content: dict) -> int:
    """The format a checkpoint's content is written as: the oldest that holds it (4 only with ``unlabeled``)."""
    return FORMAT_VERSION if content.get("unlabeled") is not None else SUPERVISED_FORMAT_VERSION


def _format_1_labels(config, class_names: list):
    """Format 1 kept only the class names: its label set rebuilt from its config, as its training built it (format 1
    knew only Cityscapes and KITTI, whose classes need no files), or None where that no longer gives those names."""
    from utils.data.families import build_labels

    dataset = (config or {}).get("dataset") or {}
    try:
        labels = build_labels(
            (config or {}).get("target"), dataset.get("labels"), dataset.get("unlabeled_class", False)
        )
    except (UserError, ValueError, KeyError, TypeError):
        return None
    return labels.to_dict() if list(labels.names) == list(class_names) else None
