"""KITTI road devkit metrics: MaxF, precision, recall and AP over 256 thresholds, per devkit category.

Follows the devkit's evaluateRoad: confidences are 8-bit PNG values / 255; a pixel is predicted road
at threshold k/255 when its value >= k; only valid (non-black gt) pixels count; totals are summed over
all images of a category (um_road, umm_road, uu_road, um_lane) before precision/recall; AP is the
11-point Pascal VOC average. Because the PNGs are 8-bit, two histograms of 256 bins per image hold
everything the devkit computes. The same scoring runs on bird's-eye-view maps (kitti_bev.py).
"""

import numpy as np

from utils.data.kitti_layout import NAME
from utils.files import format_number as _fmt  # the one NaN-aware formatter, under its old local name

# evaluateRoad's categories, in its order; 'all' pools every image, which the devkit never does.
DEVKIT_CATEGORIES = ("um_lane", "um_road", "umm_road", "uu_road")


def kitti_result_name(image_stem: str, mode: str) -> str:
    """um_000000 -> um_road_000000 (or um_lane_000000), the devkit's naming; other names stay as they are."""
    match = NAME.fullmatch(image_stem)
    return f"{match.group(1)}_{mode}_{match.group(2)}" if match else image_stem


def devkit_category(image_stem: str, mode: str):
    """um_000000 -> 'um_road' in road mode ('um_lane' in lane mode); None for names outside the devkit's."""
    match = NAME.fullmatch(image_stem)
    category = f"{match.group(1)}_{mode}" if match else None
    return category if category in DEVKIT_CATEGORIES else None


class RoadEvaluator:
    def __init__(self):
        self.pos_hist = np.zeros(256, np.int64)
        self.neg_hist = np.zeros(256, np.int64)

    def update(self, confidence: np.ndarray, gt: np.ndarray) -> None:
        """confidence: (H, W) uint8; gt: (H, W) with 0 = road, 1 = not road, anything else ignored."""
        self.pos_hist += np.bincount(confidence[gt == 0].ravel(), minlength=256)
        self.neg_hist += np.bincount(confidence[gt == 1].ravel(), minlength=256)

    def compute(self) -> dict:
        pos = self.pos_hist.sum()
        if pos == 0:
            return {
                "max_f": float("nan"),
                "precision": float("nan"),
                "recall": float("nan"),
                "average_precision": float("nan"),
                "threshold": float("nan"),
            }
        # FN at threshold k: positives with value < k; FP: negatives with value >= k.
        fn = np.concatenate([[0], np.cumsum(self.pos_hist)[:-1]])
        fp = np.cumsum(self.neg_hist[::-1])[::-1]
        tp = pos - fn
        recall = tp / float(pos)
        precision = tp / (tp + fp + 1e-10)
        keep = ~((recall == 0) & (precision == 0))
        thresholds = np.arange(256)[keep] / 255.0
        recall, precision = recall[keep], precision[keep]
        ap = np.mean([precision[recall >= r].max() if (recall >= r).any() else 0.0 for r in np.arange(0, 1.1, 0.1)])
        f = 2 * precision * recall / (precision + recall + 1e-10)
        best = int(f.argmax())
        return {
            "max_f": float(f[best]),
            "precision": float(precision[best]),
            "recall": float(recall[best]),
            "average_precision": float(ap),
            "threshold": float(thresholds[best]),
        }


class CategoryScores:
    """One :class:`RoadEvaluator` per devkit category plus ``all``, the pool of every image."""

    def __init__(self):
        self.evaluators = {}

    def update(self, category: str, confidence: np.ndarray, gt: np.ndarray) -> None:
        for key in (category, "all"):
            self.evaluators.setdefault(key, RoadEvaluator()).update(confidence, gt)

    def compute(self) -> dict:
        """{category: {max_f, precision, recall, average_precision, threshold}} in the devkit's order, then all."""
        keys = [c for c in DEVKIT_CATEGORIES if c in self.evaluators] + (["all"] if self.evaluators else [])
        return {k: self.evaluators[k].compute() for k in keys}


def format_kitti_table(perspective: dict, bev=None) -> str:
    """A markdown table with one row per category: the perspective scores, then the BEV ones if given."""
    head = "| category | MaxF | AP | precision | recall | threshold |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if bev:
        head += " BEV MaxF | BEV AP | BEV precision | BEV recall | BEV threshold |"
        rule += "---:|---:|---:|---:|---:|"
    lines = [head, rule]
    for name, scores in perspective.items():
        row = (
            f"| {name} | "
            + " | ".join(_fmt(scores[k]) for k in ("max_f", "average_precision", "precision", "recall", "threshold"))
            + " |"
        )
        if bev:
            other = bev.get(name)
            row += (
                " "
                + " | ".join(
                    _fmt(other[k]) if other else "n/a"
                    for k in ("max_f", "average_precision", "precision", "recall", "threshold")
                )
                + " |"
            )
        lines.append(row)
    return "\n".join(lines)
