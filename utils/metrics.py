"""Dataset-level segmentation metrics from one confusion matrix, accumulated on device and mergeable across processes.

IoU per class = TP / (TP + FP + FN) and dice = 2TP / (2TP + FP + FN), from a matrix summed over the
whole dataset (never averaged per image or per batch). Ground-truth pixels equal to the ignore index
count for nothing. A class with TP + FP + FN = 0 is NaN and left out of the means, as in the official
Cityscapes evaluator.
"""

import math

import torch

from utils.distributed import all_reduce_sum
from utils.files import format_number
from utils.labels import IGNORE_INDEX


class ConfusionMatrix:
    """``matrix[t, p]`` counts pixels of ground-truth class t predicted as p.

    Predictions equal to ``ignore_index`` (DropClusters with fill=ignore) are kept in an extra
    column: they are misses (FN) for the true class and FP for no class.
    """

    def __init__(self, num_classes: int, device="cpu", ignore_index: int = IGNORE_INDEX):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.matrix = torch.zeros(num_classes, num_classes + 1, dtype=torch.int64, device=device)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Adds a batch (or one image) and returns its own (C, C + 1) counts, on the matrix's device.

        ``pred`` and ``target`` are integer tensors of the same shape, e.g. (N, H, W).
        """
        n = self.num_classes
        target = target.to(self.matrix.device).reshape(-1).long()
        pred = pred.to(self.matrix.device).reshape(-1).long()
        keep = (target >= 0) & (target < n)
        pred = torch.where((pred >= 0) & (pred < n), pred, torch.full_like(pred, n))
        idx = target[keep] * (n + 1) + pred[keep]
        counts = torch.bincount(idx, minlength=n * (n + 1)).reshape(n, n + 1)
        self.matrix += counts
        return counts

    def reduce(self) -> "ConfusionMatrix":
        """Sums the matrix over all processes (a no-op without torch.distributed)."""
        all_reduce_sum(self.matrix)
        return self

    def compute(self, names=None, void_classes=()) -> dict:
        """Metrics as plain floats: miou, mean_dice, pixel_acc, per_class {name: {iou, dice}}.

        ``miou_no_void`` / ``mean_dice_no_void`` score the other classes as the official Cityscapes
        evaluator does: ``void_classes`` are left out, and pixels whose ground truth is void count as
        nobody's false positive. Each scored class then also carries ``iou_no_void`` and
        ``dice_no_void`` in ``per_class``: the official evaluator's per-class figures.
        """
        m = self.matrix.double().cpu()
        n = self.num_classes
        tp = m[:, :n].diagonal()
        iou, dice = class_scores(m)
        names = list(names) if names is not None else [str(i) for i in range(n)]
        total = m.sum()
        out = {
            "miou": _nanmean(iou),
            "mean_dice": _nanmean(dice),
            "pixel_acc": float(tp.sum() / total) if total > 0 else math.nan,
            "per_class": {names[i]: {"iou": float(iou[i]), "dice": float(dice[i])} for i in range(n)},
        }
        if void_classes:
            # As the official evaluator: a prediction on a void ground-truth pixel is no false positive.
            scored = [i for i in range(n) if i not in set(void_classes)]
            iou_s, dice_s = class_scores(m, fp_rows=scored)
            out["miou_no_void"] = _nanmean(iou_s[scored])
            out["mean_dice_no_void"] = _nanmean(dice_s[scored])
            for i in scored:  # the official evaluator's per-class figures
                out["per_class"][names[i]].update({"iou_no_void": float(iou_s[i]), "dice_no_void": float(dice_s[i])})
        return out


def class_scores(matrix: torch.Tensor, fp_rows=None) -> tuple:
    """Per-class IoU and dice of one confusion matrix: the dataset's (:class:`ConfusionMatrix`) or one image's.

    Args:
        matrix: (C, C + 1) counts, ``matrix[t, p]`` pixels of true class t predicted as p; the last column
            counts pixels predicted as ignored (misses for their true class, nobody's false positive).
        fp_rows: the true classes whose pixels can be false positives (default all); the official Cityscapes
            evaluator leaves the void classes' rows out.

    Returns:
        (iou, dice), each (C,) float64: TP / (TP + FP + FN) and 2TP / (2TP + FP + FN), NaN where a class has
        no TP, FP or FN.
    """
    m = matrix.double()
    n = m.shape[0]
    tp = m[:, :n].diagonal()
    fn = m.sum(1) - tp
    fp = (m if fp_rows is None else m[list(fp_rows)])[:, :n].sum(0) - tp
    union = tp + fp + fn
    nan = torch.full_like(tp, math.nan)
    iou = torch.where(union > 0, tp / union.clamp_min(1), nan)
    dice = torch.where(union > 0, 2 * tp / (union + tp).clamp_min(1), nan)
    return iou, dice


def _nanmean(values: torch.Tensor) -> float:
    finite = values[~torch.isnan(values)]
    return float(finite.mean()) if len(finite) else math.nan


def format_table(metrics: dict) -> str:
    """The per-class table in markdown, then the means."""
    no_void = "miou_no_void" in metrics
    if no_void:
        lines = ["| class | IoU | dice | IoU without void | dice without void |", "|---|---:|---:|---:|---:|"]
    else:
        lines = ["| class | IoU | dice |", "|---|---:|---:|"]
    for name, v in metrics["per_class"].items():
        row = f"| {name} | {format_number(v['iou'])} | {format_number(v['dice'])} |"
        if no_void:
            row += (
                f" {format_number(v.get('iou_no_void'))} | {format_number(v.get('dice_no_void'))} |"
                if "iou_no_void" in v
                else " | |"
            )
        lines.append(row)
    mean = f"| **mean** | **{format_number(metrics['miou'])}** | **{format_number(metrics['mean_dice'])}** |"
    if no_void:
        mean += f" **{format_number(metrics['miou_no_void'])}** | **{format_number(metrics['mean_dice_no_void'])}** |"
    lines.append(mean)
    extra = f"pixel accuracy {format_number(metrics['pixel_acc'])}"
    if no_void:
        extra += (
            "; 'without void' scores as the official Cityscapes evaluator (and Vistas') does: void classes left out, "
            "a prediction on void ground truth is no false positive"
        )
    return "\n".join(lines) + "\n\n" + extra
