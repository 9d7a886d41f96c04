"""What eval.py writes per image: pictures and the overlay video of a frame folder (results in the dataset's own encoding: label_results.py, kitti_results.py)."""

import cv2
import numpy as np

from utils.evaluation.video import VideoWriter
from utils.visualize import colorize, overlay, save_rgb, side_by_side, stack_rows

GRID_ROWS = 4


class PredictionWriter:
    """Writes, per image:

    - ``pictures/<name>_pred.png`` and ``<name>_overlay.png`` for the first ``eval.max_images``;
    - with ``video``, every overlay as a frame of ``predictions.mp4``;
    - ``examples.png``: input | ground truth | prediction for the first few labelled images.
    """

    def __init__(self, setup, video: bool = False):
        self.cfg, self.labels, self.out = setup.cfg, setup.labels, setup.output_dir
        self.palette = self.labels.palette()
        self.count = 0
        self.video = video
        self.video_writer = None
        self.video_size = None
        self.grid_rows = []
        self.overlays = []  # the overlay pictures this eval wrote, for the report

    def write(self, name: str, image: np.ndarray, pred: np.ndarray, gt=None) -> None:
        cfg = self.cfg.eval
        self.count += 1
        saved = cfg.max_images < 0 or self.count <= cfg.max_images
        grid = gt is not None and len(self.grid_rows) < GRID_ROWS
        if not (saved or grid or self.video):
            return  # past eval.max_images: no picture work at all for this image
        if image.shape[:2] != pred.shape:
            image = cv2.resize(image, (pred.shape[1], pred.shape[0]), interpolation=cv2.INTER_LINEAR)
        if saved:
            save_rgb(self.out / "pictures" / f"{name}_pred.png", colorize(pred, self.palette))
        if (saved and cfg.overlay) or self.video:
            blended = overlay(image, pred, self.palette, cfg.overlay_alpha)
            if saved and cfg.overlay:
                save_rgb(self.out / "pictures" / f"{name}_overlay.png", blended)
                self.overlays.append(self.out / "pictures" / f"{name}_overlay.png")
            if self.video:
                self._frame(blended)
        if grid:
            self.grid_rows.append(side_by_side(image, colorize(gt, self.palette), colorize(pred, self.palette)))

    def _frame(self, frame: np.ndarray) -> None:
        if self.video_writer is None:
            self.video_size = (frame.shape[1], frame.shape[0])
            self.video_writer = VideoWriter(self.out / "predictions.mp4", self.video_size, self.cfg.eval.video_fps)
        if (frame.shape[1], frame.shape[0]) != self.video_size:
            frame = cv2.resize(frame, self.video_size, interpolation=cv2.INTER_LINEAR)
        self.video_writer.write(frame)

    def close(self) -> None:
        """Closes predictions.mp4 and writes examples.png; called in a ``finally``, after an error too (the
        video then holds the frames so far)."""
        if self.video_writer is not None:
            self.video_writer.close()
        if self.grid_rows:
            save_rgb(self.out / "examples.png", stack_rows(self.grid_rows))
