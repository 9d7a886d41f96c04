"""DropClusters: remove connected components smaller than a threshold from a predicted class map."""

import cv2
import numpy as np
from skimage.measure import label

from utils.labels import IGNORE_INDEX

_NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]  # 8-connectivity


def drop_clusters(pred: np.ndarray, min_size: int, fill="majority", num_classes: int = None) -> np.ndarray:
    """Replaces every 8-connected component with fewer than ``min_size`` pixels, per class.

    Args:
        pred: (H, W) uint8 class indices.
        min_size: components with fewer pixels are dropped; 0 returns ``pred`` unchanged.
        fill: ``"majority"`` takes the most common class on the component's one-pixel outer ring
            (ignoring pixels that are themselves dropped; a component with no such neighbour keeps its class;
            a tie goes to the lowest class index), ``"ignore"`` writes IGNORE_INDEX, and an int writes that class index.
        num_classes: classes to scan; defaults to max(pred) + 1. Pixels of higher values (IGNORE_INDEX in a
            19-class map) are never dropped but do vote in a neighbour's ring.
    Returns:
        A new (H, W) uint8 map. Components are found on the input map, so the result does not
        depend on the order classes are visited.
    """
    if min_size <= 0:
        return pred.copy()
    # One labelling pass over the whole map: equal-valued 8-connected regions, every value a class (none is background).
    labels = label(pred, background=-1, connectivity=2)
    small = np.bincount(labels.ravel()) < min_size
    small[0] = False  # label 0 is unused with no background
    dropped = small[labels]
    if num_classes is not None and num_classes <= int(pred.max()):
        dropped &= pred < num_classes
    out = pred.copy()
    index = np.flatnonzero(dropped)
    if not len(index):
        return out
    if fill == "ignore":
        out.ravel()[index] = IGNORE_INDEX
        return out
    if fill != "majority":
        out.ravel()[index] = int(fill)
        return out
    winner = _ring_majority(pred, labels, small, dropped, index)
    voted = winner >= 0
    out.ravel()[index[voted]] = winner[voted]
    return out


def _ring_majority(pred, labels, small, dropped, index) -> np.ndarray:
    """For each dropped pixel ``index``, its component's most common class on the kept pixels of its outer ring, or -1 with none.

    Every kept pixel next to a dropped one is one ring pixel of each distinct dropped component among its
    8 neighbours; the votes are counted for all components at once.
    """
    h, w = pred.shape
    # Components get compact ids 1..S (0: not dropped) on a map padded by one pixel, so neighbour lookups need no bounds checks.
    compact = np.cumsum(small, dtype=np.int32)
    pixel_ids = compact[labels.ravel()[index]]
    ids = np.zeros((h + 2) * (w + 2), np.int32)
    ids[_padded(index, w)] = pixel_ids
    ring = np.flatnonzero(cv2.dilate(dropped.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & ~dropped)
    offsets = np.array([dy * (w + 2) + dx for dy, dx in _NEIGHBOURS])
    neighbours = np.sort(ids[_padded(ring, w)[:, None] + offsets], axis=1)
    # A ring pixel votes once per distinct dropped neighbour component, however many of its neighbours that component holds.
    first = neighbours != 0
    first[:, 1:] &= neighbours[:, 1:] != neighbours[:, :-1]
    voter_class = np.broadcast_to(pred.ravel()[ring][:, None], neighbours.shape)[first].astype(np.int64)
    voter_component = neighbours[first].astype(np.int64)
    classes = int(pred.max()) + 1
    # Counted by sorting the (component, class) pairs: memory grows with the ring, not with components x classes (up to 256).
    pairs, counts = np.unique(voter_component * classes + voter_class, return_counts=True)
    winner = np.full(int(compact[-1]) + 1, -1, np.int64)
    if not len(pairs):  # every dropped component is the whole image or walled in by other dropped ones
        return winner[pixel_ids]
    component, cls = np.divmod(pairs, classes)
    # Per component, the most votes wins and the lowest class breaks a tie (np.bincount(votes).argmax()).
    order = np.lexsort((cls, -counts, component))
    best = order[np.r_[True, component[order[1:]] != component[order[:-1]]]]
    winner[component[best]] = cls[best]
    return winner[pixel_ids]


def _padded(flat: np.ndarray, w: int) -> np.ndarray:
    """Flat indices into an (H, W) map -> the same pixels' flat indices in that map padded by one pixel all round."""
    return flat + 2 * (flat // w) + w + 3
