"""KITTI road devkit metrics (perspective view): MaxF, precision, recall and AP over 256 thresholds.

Follows the devkit's evaluateRoad: confidences are 8-bit PNG values / 255; a pixel is predicted road
at threshold k/255 when its value >= k; only valid (non-black gt) pixels count; totals are summed over
all images before precision/recall; AP is the 11-point Pascal VOC average. Because the PNGs are 8-bit,
two histograms of 256 bins per image hold everything the devkit computes.
"""

import numpy as np


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
            return {"max_f": float("nan"), "precision": float("nan"), "recall": float("nan"), "average_precision": float("nan"), "threshold": float("nan")}
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
