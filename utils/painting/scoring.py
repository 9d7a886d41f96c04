"""Painting measured against the true point labels: per-point accuracy and IoU, and cluster recall of objects.

A true object is an instance in the true labels with at least MIN_OBJECT_POINTS painted points, whose
class (its label id through the model's label table) is an object class. It counts as found when a
cluster of its class has its centroid within FOUND_WITHIN metres of the centroid of those points.
"""

import numpy as np
import torch

from utils.metrics import ConfusionMatrix

MIN_OBJECT_POINTS = 10
FOUND_WITHIN = 1.0


def truth_table(family, labels):
    """(256,) uint8: Cityscapes label id (the true point labels) -> the model's class index (255 ignored), from the
    model's dataset family; None when label ids cannot tell the model's classes (a KITTI ego-lane model, Vistas)."""
    return family.point_truth_table(labels)


class PaintScorer:
    """Accumulates the point confusion matrix and the object counts over frames."""

    def __init__(self, names, lut: np.ndarray, object_classes):
        self.names, self.lut, self.object_classes = list(names), lut, list(object_classes)
        self.matrix = ConfusionMatrix(len(self.names))
        self.total = np.zeros(len(self.names), np.int64)
        self.found = np.zeros(len(self.names), np.int64)

    def update(
        self, index: np.ndarray, xyz: np.ndarray, predicted: np.ndarray, truth: np.ndarray, clusters: list
    ) -> None:
        """One frame: ``index`` (M,) painted rows of the scan, ``xyz`` (M, 3) and ``predicted`` (M,) of
        those points, ``truth`` (N,) the scan's uint32 true labels, ``clusters`` from cluster_objects."""
        labels = truth[index]
        true_class = self.lut[np.minimum(labels & 0xFFFF, 255)]
        self.matrix.update(torch.from_numpy(predicted.astype(np.int64)), torch.from_numpy(true_class.astype(np.int64)))
        instance = labels >> 16
        ids, inverse, counts = np.unique(instance, return_inverse=True, return_counts=True)
        centroids = np.stack([np.bincount(inverse, weights=xyz[:, d]) for d in range(3)], 1) / counts[:, None]
        owner = np.zeros(len(ids), np.int64)
        owner[inverse] = true_class  # every point of an instance carries its class
        for k, (obj, count, cls) in enumerate(zip(ids, counts, owner)):
            if obj == 0 or count < MIN_OBJECT_POINTS or cls not in self.object_classes:
                continue
            self.total[cls] += 1
            near = [
                np.linalg.norm(np.asarray(c["centroid"]) - centroids[k]) <= FOUND_WITHIN
                for c in clusters
                if c["class_index"] == cls
            ]
            self.found[cls] += any(near)

    def compute(self) -> dict:
        scores = self.matrix.compute(self.names)
        per_class = {n: {"iou": v["iou"]} for n, v in scores["per_class"].items()}
        objects = {
            self.names[c]: {"objects": int(self.total[c]), "found": int(self.found[c])} for c in self.object_classes
        }
        total = int(self.total.sum())
        return {
            "point_accuracy": scores["pixel_acc"],
            "point_miou": scores["miou"],
            "per_class": per_class,
            "objects": total,
            "objects_found": int(self.found.sum()),
            "cluster_recall": float(self.found.sum() / total) if total else float("nan"),
            "per_object_class": objects,
        }
