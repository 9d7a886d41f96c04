import numpy as np

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
