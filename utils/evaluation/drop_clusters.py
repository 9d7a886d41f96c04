"""DropClusters: remove connected components smaller than a threshold from a predicted class map."""

import cv2
import numpy as np

from utils.labels import IGNORE_INDEX


def drop_clusters(pred: np.ndarray, min_size: int, fill="majority", num_classes: int = None) -> np.ndarray:
    """Replaces every 8-connected component with fewer than ``min_size`` pixels, per class.

    Args:
        pred: (H, W) uint8 class indices.
        min_size: components with fewer pixels are dropped; 0 returns ``pred`` unchanged.
        fill: ``"majority"`` takes the most common class on the component's one-pixel outer ring
            (ignoring pixels that are themselves dropped; a component with no such neighbour keeps its class),
            ``"ignore"`` writes IGNORE_INDEX, and an int writes that class index.
        num_classes: classes to scan; defaults to max(pred) + 1.
    Returns:
        A new (H, W) uint8 map. Components are found on the input map, so the result does not
        depend on the order classes are visited.
    """
    if min_size <= 0:
        return pred.copy()
    n = int(pred.max()) + 1 if num_classes is None else num_classes
    small_labels = []  # (class, label image, ids of small components)
    dropped = np.zeros(pred.shape, bool)
    for c in range(n):
        mask = (pred == c).astype(np.uint8)
        if not mask.any():
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        small = np.nonzero(stats[1:, cv2.CC_STAT_AREA] < min_size)[0] + 1
        if len(small):
            small_labels.append((labels, stats, small))
            dropped |= np.isin(labels, small)
    out = pred.copy()
    if not dropped.any():
        return out
    if fill == "ignore":
        out[dropped] = IGNORE_INDEX
        return out
    if fill != "majority":
        out[dropped] = int(fill)
        return out
    kernel = np.ones((3, 3), np.uint8)
    h, w = pred.shape
    for labels, stats, small in small_labels:
        for k in small:
            x, y, bw, bh = stats[k, :4]
            y0, y1, x0, x1 = max(0, y - 1), min(h, y + bh + 1), max(0, x - 1), min(w, x + bw + 1)
            comp = (labels[y0:y1, x0:x1] == k).astype(np.uint8)
            ring = cv2.dilate(comp, kernel).astype(bool) & ~comp.astype(bool) & ~dropped[y0:y1, x0:x1]
            votes = pred[y0:y1, x0:x1][ring]
            if len(votes):  # with no kept neighbour (the whole image, or a ring of dropped specks) the class stays
                out[y0:y1, x0:x1][comp.astype(bool)] = np.bincount(votes).argmax()
    return out
