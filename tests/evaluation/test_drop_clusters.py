import cv2
import numpy as np
import pytest

from utils.evaluation.drop_clusters import drop_clusters
from utils.labels import IGNORE_INDEX


def scene():
    pred = np.zeros((10, 12), np.uint8)
    pred[:, 6:] = 1  # two big regions: class 0 left, class 1 right
    pred[2:4, 2:4] = 2  # a 4-pixel speck of class 2 inside class 0
    pred[7, 9] = 0  # a 1-pixel speck of class 0 inside class 1
    pred[5:8, 1:4] = 3  # a 9-pixel blob of class 3 inside class 0
    return pred


def test_small_clusters_take_the_surrounding_majority():
    pred = scene()
    out = drop_clusters(pred, min_size=5, fill="majority")
    expected = pred.copy()
    expected[2:4, 2:4] = 0
    expected[7, 9] = 1
    assert (out == expected).all()  # the 9-pixel blob stays
    assert (pred == scene()).all()  # the input is not modified


def test_threshold_is_exclusive_and_zero_is_off():
    pred = scene()
    assert (drop_clusters(pred, 0) == pred).all()
    assert (drop_clusters(pred, 4)[2:4, 2:4] == 2).all()  # exactly 4 pixels: kept
    assert (drop_clusters(pred, 10)[5:8, 1:4] == 0).all()


def test_fill_ignore_and_fill_class():
    pred = scene()
    ignored = drop_clusters(pred, 5, fill="ignore")
    assert (ignored[2:4, 2:4] == IGNORE_INDEX).all() and ignored[7, 9] == IGNORE_INDEX
    assert (ignored == IGNORE_INDEX).sum() == 5
    background = drop_clusters(pred, 5, fill=3)
    assert (background[2:4, 2:4] == 3).all() and background[7, 9] == 3


def test_diagonal_pixels_are_one_cluster():
    pred = np.zeros((6, 6), np.uint8)
    pred[1, 1] = pred[2, 2] = pred[3, 3] = 1  # 8-connected: one component of 3
    assert (drop_clusters(pred, 3) == pred).all()
    assert (drop_clusters(pred, 4) == 0).all()


def test_touching_small_clusters_vote_with_the_kept_pixels():
    pred = np.full((8, 8), 4, np.uint8)
    pred[3, 3] = 1
    pred[3, 4] = 2  # two touching 1-pixel clusters: each ring sees the other, which is dropped too
    out = drop_clusters(pred, 2, fill="majority")
    assert (out == 4).all()


def test_a_cluster_with_no_kept_neighbour_keeps_its_class():
    pred = np.full((3, 3), 2, np.uint8)  # the whole image is one component, smaller than min_size
    assert (drop_clusters(pred, 100, fill="majority") == 2).all()


def reference_drop_clusters(pred, min_size, fill="majority", num_classes=None):
    """The straightforward algorithm DropClusters replaced, kept as the oracle: one labelling and one ring per component, per class."""
    if min_size <= 0:
        return pred.copy()
    n = int(pred.max()) + 1 if num_classes is None else num_classes
    small_labels = []
    dropped = np.zeros(pred.shape, bool)
    for c in range(n):
        mask = (pred == c).astype(np.uint8)
        if not mask.any():
            continue
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
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
            if len(votes):
                out[y0:y1, x0:x1][comp.astype(bool)] = np.bincount(votes).argmax()
    return out


def speckled(seed, classes=6, ignore=False):
    """A random map of blocky regions, then many specks: single pixels, short lines and small blobs that touch each other and the border."""
    rng = np.random.default_rng(seed)
    h, w = rng.integers(8, 48, size=2)
    block = int(rng.integers(2, 9))
    pred = np.repeat(np.repeat(rng.integers(0, classes, (h // block + 1, w // block + 1)), block, 0), block, 1)[
        :h, :w
    ].astype(np.uint8)
    for _ in range(int(rng.integers(0, h * w // 4))):
        y, x = rng.integers(0, h), rng.integers(0, w)
        bh, bw = rng.integers(1, 4, size=2)
        pred[y : y + bh, x : x + bw] = rng.integers(0, classes)
    if ignore:  # IGNORE_INDEX regions and specks, as a ground-truth-like map would have
        pred[rng.random((h, w)) < 0.05] = IGNORE_INDEX
        pred[: h // 3, : w // 4] = IGNORE_INDEX
    return pred


@pytest.mark.parametrize("fill", ["majority", "ignore", 2])
def test_equals_the_per_class_reference_on_random_speckled_maps(fill):
    checked = dropped = 0
    for seed in range(60):
        pred = speckled(seed, classes=3 + seed % 5, ignore=seed % 3 == 0)
        for min_size in (1, 2, 3, 5, 9, 30, 10_000):
            for num_classes in (None, int(pred[pred != IGNORE_INDEX].max()) + 1, 2):
                expected = reference_drop_clusters(pred, min_size, fill, num_classes)
                out = drop_clusters(pred, min_size, fill, num_classes)
                assert out.dtype == expected.dtype and (out == expected).all(), (seed, min_size, num_classes)
                checked += 1
                dropped += int((out != pred).any())
    assert dropped > checked // 2  # most cases really dropped something


def test_ties_go_to_the_lowest_class_and_a_walled_in_speck_keeps_its_class():
    pred = np.zeros((5, 5), np.uint8)
    pred[:, 3:] = 3
    pred[:, 2] = 1  # a 1-pixel-wide column between class 0 and class 3: 5 ring votes each, and the lower class wins
    assert (drop_clusters(pred, 6)[:, 2] == 0).all()
    pred[:, :2] = 4  # the lower class on the other side: still 5 votes each, and 3 wins
    assert (drop_clusters(pred, 6)[:, 2] == 3).all() and (
        drop_clusters(pred, 6) == reference_drop_clusters(pred, 6)
    ).all()
    walled = np.array([[1, 1, 1], [1, 2, 1], [1, 1, 1]], np.uint8)  # the ring of 1s is itself smaller than min_size
    assert (drop_clusters(walled, 9) == walled).all()


def test_matches_scikit_image_remove_small_objects_per_class_with_fill_ignore():
    from skimage.morphology import remove_small_objects

    for seed in range(40):
        pred = speckled(seed)
        for min_size in (2, 5, 20):
            expected = pred.copy()
            for c in range(int(pred.max()) + 1):
                mask = pred == c
                # remove_small_objects keeps objects larger than max_size: "fewer than min_size pixels" is min_size - 1
                expected[mask & ~remove_small_objects(mask, max_size=min_size - 1, connectivity=2)] = IGNORE_INDEX
            assert (drop_clusters(pred, min_size, "ignore") == expected).all(), (seed, min_size)
