import numpy as np
import pytest

from utils.evaluation.kitti_devkit import RoadEvaluator


def brute_force(conf_list, gt_list):
    """Threshold by threshold, as the devkit's evalExp + pxEval_maximizeFMeasure describe."""
    conf = np.concatenate([c.ravel() for c in conf_list]).astype(np.float64) / 255.0
    gt = np.concatenate([g.ravel() for g in gt_list])
    valid = gt != 255
    pos, neg = (gt == 0) & valid, (gt == 1) & valid
    precision, recall = [], []
    for k in range(256):
        predicted = conf >= k / 255.0
        tp, fp = np.sum(predicted & pos), np.sum(predicted & neg)
        r, p = tp / pos.sum(), tp / (tp + fp + 1e-10)
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
