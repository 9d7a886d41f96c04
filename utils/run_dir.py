"""The run folder: the one rank-aware place that writes logs, TensorBoard events, metrics and checkpoints.

Only the main process writes; on other ranks every method is a no-op, so callers never branch on rank.
"""

import json
import logging
import math
import os
import sys
from pathlib import Path

import numpy as np

from utils.checkpoint import atomic_torch_save
from utils.config import save_config
from utils.distributed import is_main_process
from utils.errors import UserError

LOGGER_NAME = "segtool"


def json_safe(obj):
    """NaN (a class with no pixels) becomes null, so metrics files are strict JSON for jq and browsers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def to_json(data) -> str:
    return json.dumps(json_safe(data), indent=2, allow_nan=False)


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def setup_console_logging() -> logging.Logger:
    log = get_logger()
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO if is_main_process() else logging.WARNING)
    return log


class RunDir:
    """Owns ``paths.output_dir``: config.yaml, train.log, tensorboard/, metrics.json, last.pth, best.pth."""

    def __init__(self, path, log_name: str = "train.log", tensorboard: bool = True):
        self.path = Path(path)
        self.main = is_main_process()
        self.log = setup_console_logging()
        self.writer = None
        if not self.main:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"Cannot create the run folder '{self.path}' (paths.output_dir): {exc}") from None
        file_handler = logging.FileHandler(self.path / log_name)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        self.log.addHandler(file_handler)
        self._file_handler = file_handler
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(logdir=str(self.path / "tensorboard"))

    def save_config(self, cfg) -> None:
        if self.main:
            save_config(cfg, self.path / "config.yaml")

    def scalars(self, values: dict, step: int) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                if value is not None and np.isfinite(value):
                    self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, image_hwc: np.ndarray, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, image_hwc, step, dataformats="HWC")

    def save_checkpoint(self, state: dict, name: str) -> None:
        if self.main:
            atomic_torch_save(state, self.path / name)

    def write_json(self, data, name: str) -> None:
        """Atomic: metrics.json is never seen half-written."""
        if self.main:
            tmp = self.path / f".{name}.tmp-{os.getpid()}"
            tmp.write_text(to_json(data))
            os.replace(tmp, self.path / name)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.main:
            self.log.removeHandler(self._file_handler)
            self._file_handler.close()
