"""The run folder: the one rank-aware place that writes logs, TensorBoard events, metrics and checkpoints.

Only the main process writes; on other ranks every method is a no-op, so callers never branch on rank.
"""

import logging
from pathlib import Path

import numpy as np

from utils.checkpoint import atomic_torch_save
from utils.config.loading import save_config
from utils.distributed import is_main_process
from utils.files import atomic_write_text, ensure_writable_folder, remove_stale_temporaries, to_json
from utils.runtime import setup_console_logging
from utils.visualize import plot_training_curves


class RunDir:
    """Owns ``paths.output_dir``: config.yaml, train.log, tensorboard/, metrics.json, last.pth, best.pth."""

    def __init__(self, path, log_name: str = "train.log", tensorboard: bool = True):
        self.path = Path(path)
        self.main = is_main_process()
        self.log = setup_console_logging()
        self.writer, self._file_handler = None, None
        if not self.main:
            return
        ensure_writable_folder(self.path, "the run folder (paths.output_dir)")
        removed = remove_stale_temporaries(self.path)
        self._file_handler, self.writer = self._open(log_name, tensorboard)
        if removed:
            self.log.info(f"removed {len(removed)} temporary file(s) left by an interrupted save: {', '.join(removed)}")

    def _open(self, log_name: str, tensorboard: bool) -> tuple:
        """(log file handler, TensorBoard writer or None), opened together: the handler joins the process-wide
        logger only once the writer exists, and is closed again if the writer cannot be made, so a failed start
        leaves no handler writing into this folder for the rest of the process."""
        handler = logging.FileHandler(self.path / log_name)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        try:
            writer = None
            if tensorboard:
                from tensorboardX import SummaryWriter

                writer = SummaryWriter(logdir=str(self.path / "tensorboard"))
        except BaseException:
            handler.close()
            raise
        self.log.addHandler(handler)
        return handler, writer

    def save_config(self, cfg) -> None:
        if self.main:
            save_config(cfg, self.path / "config.yaml")

    def scalars(self, values: dict, step: int) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                if value is not None and np.isfinite(value):
                    self.writer.add_scalar(tag, value, step)

    def log_validation(self, record: dict, grid) -> None:
        """A validation record (metrics.json's) and its picture grid to TensorBoard, at the record's step."""
        step = record["iteration"]
        self.scalars(
            {
                "val/loss": record["val_loss"],
                "val/miou": record["miou"],
                "val/mean_dice": record["mean_dice"],
                "val/pixel_acc": record["pixel_acc"],
            },
            step,
        )
        for name, m in record.get("per_source", {}).items():  # dataset.sources: each source's own figures
            self.scalars({f"val_{name}/miou": m["miou"], f"val_{name}/loss": m["val_loss"]}, step)
        self.scalars({f"val_iou/{k}": v["iou"] for k, v in record["per_class"].items()}, step)
        self.scalars({f"val_dice/{k}": v["dice"] for k, v in record["per_class"].items()}, step)
        if not record["partial_epoch"]:
            self.scalars(
                {"train/epoch_loss": record["loss"], "train/epoch_images_per_sec": record["images_per_sec"]}, step
            )
        if grid is not None:
            self.image("val/input_gt_prediction", grid, step)

    def image(self, tag: str, image_hwc: np.ndarray, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, image_hwc, step, dataformats="HWC")

    def save_checkpoint(self, state: dict, name: str) -> None:
        if self.main:
            atomic_torch_save(state, self.path / name)

    def curves(self, history: list, train_points: list, skipped_steps: list) -> None:
        """Redraws curves.png: a run going wrong can be seen without TensorBoard."""
        if self.main:
            plot_training_curves(history, train_points, skipped_steps, self.path / "curves.png")

    def write_json(self, data, name: str) -> None:
        """Atomic: metrics.json is never seen half-written."""
        if self.main:
            atomic_write_text(self.path / name, to_json(data))

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Closes the TensorBoard writer and the log file together: the log file is detached and closed even when
        closing the writer raises (that error then propagates). A second call does nothing."""
        writer, self.writer = self.writer, None
        handler, self._file_handler = self._file_handler, None
        try:
            if writer is not None:
                writer.close()
        finally:
            if handler is not None:
                self.log.removeHandler(handler)
                handler.close()
