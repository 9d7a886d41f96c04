import numpy as np
import pytest

from utils.evaluation.kitti_devkit import RoadEvaluator


def brute_force(conf_list, gt_list):
    """Threshold by threshold, as the devkit's evalExp + pxEval_maximizeFMeasure describe.

    The devkit compares float32 value / 255 with threshold k / 255; that is value >= k for every 8-bit value
    (test_float_thresholds_are_the_8bit_ones), so the uint8 values are compared directly.
    """
    conf = np.concatenate([c.ravel() for c in conf_list])
    gt = np.concatenate([g.ravel() for g in gt_list])
    on_road, off_road = conf[gt == 0], conf[gt == 1]
    precision, recall = [], []
    for k in range(256):
        tp, fp = np.count_nonzero(on_road >= k), np.count_nonzero(off_road >= k)
        r, p = tp / len(on_road), tp / (tp + fp + 1e-10)
        if r == 0 and p == 0:
            continue
        precision.append(p)
        recall.append(r)
    precision, recall = np.array(precision), np.array(recall)
    f = 2 * precision * recall / (precision + recall + 1e-10)
    ap = np.mean([precision[recall >= t].max() for t in np.arange(0, 1.1, 0.1)])
    return f.max(), precision[f.argmax()], recall[f.argmax()], ap


def test_matches_a_threshold_by_threshold_computation():
    rng = np.random.default_rng(0)
    ev, confs, gts = RoadEvaluator(), [], []
    for _ in range(3):
        gt = rng.choice([0, 1, 255], size=(20, 30), p=[0.4, 0.5, 0.1]).astype(np.uint8)
        conf = np.clip(np.where(gt == 0, 170, 90) + rng.normal(0, 60, gt.shape), 0, 255).astype(np.uint8)
        ev.update(conf, gt)
        confs.append(conf)
        gts.append(gt)
    got = ev.compute()
    max_f, precision, recall, ap = brute_force(confs, gts)
    assert got["max_f"] == pytest.approx(max_f) and got["precision"] == pytest.approx(precision)
    assert got["recall"] == pytest.approx(recall) and got["average_precision"] == pytest.approx(ap)


def test_perfect_confidence_scores_one():
    ev = RoadEvaluator()
    gt = np.array([[0, 0, 1, 255]], np.uint8)
    ev.update(np.array([[255, 200, 3, 250]], np.uint8), gt)
    assert ev.compute()["max_f"] == pytest.approx(1.0) and ev.compute()["average_precision"] == pytest.approx(1.0)


def test_float_thresholds_are_the_8bit_ones():
    """The devkit reads a PNG value v as float32 v / 255 and counts it at threshold k / 255 (float64) when
    it is >= the threshold, through np.histogram over [-inf, 0/255, ..., 255/255, inf]: value v lands in
    bin v exactly, i.e. v / 255 >= k / 255 holds exactly when v >= k."""
    values = np.arange(256, dtype=np.uint8).astype("f4") / np.iinfo(np.uint8).max
    thresholds = np.arange(256) / 255.0
    assert np.array_equal(values[:, None] >= thresholds[None, :], np.arange(256)[:, None] >= np.arange(256)[None, :])
    counts = np.histogram(values, bins=np.concatenate(([-np.inf], thresholds, [np.inf])))[0]
    assert counts[0] == 0 and (counts[1:] == 1).all()
