"""Per-image scores (``per_image.csv``) and the worst images' panels for the report.

An image's mIoU is the mean IoU over the classes that occur in its ground truth or its prediction, on its
labelled pixels: ignored pixels count for nothing, and a class in neither is left out (an empty cell in
the CSV). Each image's confusion matrix is counted on the device with the dataset's; one copy per batch.
"""

import bisect
import csv
import math

import cv2
import numpy as np
import torch

from utils.labels import IGNORE_INDEX
from utils.metrics import class_scores
from utils.visualize import colorize, side_by_side

PANEL_HEIGHT = 160
WRONG, RIGHT, IGNORED = (230, 30, 30), (40, 40, 40), (150, 150, 150)


def image_scores(matrix: np.ndarray) -> dict:
    """One image's (C, C + 1) confusion matrix (last column: predicted as ignored) -> pixel_acc, miou, iou per class."""
    n = matrix.shape[0]
    tp = np.diag(matrix[:, :n]).astype(np.float64)
    iou = class_scores(torch.from_numpy(matrix))[0].numpy()
    total = matrix.sum()
    occurring = iou[~np.isnan(iou)]
    return {
        "pixel_acc": float(tp.sum() / total) if total else math.nan,
        "miou": float(occurring.mean()) if len(occurring) else math.nan,
        "iou": iou,
    }


def error_map(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(H, W, 3): wrong pixels red, right ones dark, ignored ones grey."""
    out = np.empty((*gt.shape, 3), np.uint8)
    out[:] = RIGHT
    out[pred != gt] = WRONG
    out[gt == IGNORE_INDEX] = IGNORED
    return out


class PerImage:
    """Collects every labelled image's scores and keeps the ``worst`` lowest-mIoU images' panels.

    Args:
        names: the class names.
        palette: (256, 3) class colours.
        worst: how many panels to keep (eval.report_worst).
    """

    def __init__(self, names, palette: np.ndarray, worst: int = 12):
        self.names, self.palette, self.worst = list(names), palette, worst
        self.rows, self._kept, self._pending = [], [], []

    def add(self, name: str, matrix: torch.Tensor, picture, pred: np.ndarray, gt: np.ndarray) -> None:
        """``matrix`` is the image's confusion matrix on the device; scores are read in :meth:`flush`."""
        self._pending.append((name, matrix, picture, pred, gt))

    def flush(self) -> None:
        """Reads the batch's matrices back in one copy, scores them and updates the worst images."""
        if not self._pending:
            return
        matrices = torch.stack([m for _, m, *_ in self._pending]).cpu().numpy()
        for (name, _, picture, pred, gt), matrix in zip(self._pending, matrices):
            scores = image_scores(matrix)
            self.rows.append({"image": name, **scores})
            if self.worst > 0 and not math.isnan(scores["miou"]):
                self._keep((scores["miou"], len(self.rows)), name, picture, pred, gt)
        self._pending.clear()

    def _keep(self, key: tuple, name: str, picture, pred, gt) -> None:
        """Keeps the ``worst`` lowest (mIoU, order) images, sorted; an entering image's arrays are copied once,
        since they are views of the whole batch."""
        if len(self._kept) == self.worst and key >= self._kept[-1][:2]:
            return
        bisect.insort(self._kept, (*key, name, np.array(picture), np.array(pred), np.array(gt)), key=lambda e: e[:2])
        del self._kept[self.worst :]

    def worst_images(self) -> list:
        """[(name, miou, panel)] lowest mIoU first; panel = input | ground truth | prediction | error map."""
        return [(name, miou, self._panel(picture, pred, gt)) for miou, _, name, picture, pred, gt in self._kept]

    def _panel(self, picture, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        h, w = gt.shape
        size = (max(1, round(w * PANEL_HEIGHT / h)), PANEL_HEIGHT)
        image = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        small = [cv2.resize(a, size, interpolation=cv2.INTER_NEAREST) for a in (gt, pred)]
        return side_by_side(
            image,
            colorize(small[0], self.palette),
            colorize(small[1], self.palette),
            cv2.resize(error_map(pred, gt), size, interpolation=cv2.INTER_NEAREST),
        )

    def write_csv(self, path) -> None:
        """``per_image.csv``: image, pixel_acc, miou, then one IoU column per class (empty where the class is in neither)."""
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["image", "pixel_acc", "miou", *[f"iou_{n}" for n in self.names]])
            for row in self.rows:
                out.writerow(
                    [row["image"], _cell(row["pixel_acc"]), _cell(row["miou"]), *[_cell(v) for v in row["iou"]]]
                )

    def lowest(self, count: int = 5) -> list:
        """The ``count`` images with the lowest mIoU, as (name, miou)."""
        scored = [(r["miou"], order, r["image"]) for order, r in enumerate(self.rows) if not math.isnan(r["miou"])]
        return [(name, miou) for miou, _, name in sorted(scored)[:count]]  # ties: first seen first, as worst/


def _cell(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.6f}"
