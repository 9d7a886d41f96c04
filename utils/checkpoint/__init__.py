"""Checkpoints: the one place that knows what a checkpoint file holds.

:class:`~utils.checkpoint.record.Checkpoint` is the typed record training writes and evaluation, export and
``--resume`` read; it is the only code that names the file's keys. On disk it is a plain dict of tensors, lists and
scalars (``torch.load(weights_only=True)`` reads it) with a ``format_version``: :mod:`~utils.checkpoint.disk` writes
it atomically and migrates every older shape on load. :mod:`~utils.checkpoint.state` captures and restores the RNG
streams and moves weights across class counts.
"""

from utils.checkpoint.disk import FORMAT_VERSION, atomic_torch_save, load_checkpoint, migrate
from utils.checkpoint.record import Checkpoint, EpochProgress, Metrics, Progress, TrainingState, UnlabeledState
from utils.checkpoint.state import rng_state, set_rng_state, transfer_weights

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "EpochProgress",
    "Metrics",
    "Progress",
    "TrainingState",
    "UnlabeledState",
    "atomic_torch_save",
    "load_checkpoint",
    "migrate",
    "rng_state",
    "set_rng_state",
    "transfer_weights",
]
