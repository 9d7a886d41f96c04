import math
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.distributed as dist

from utils.files import format_number
from utils.labels import IGNORE_INDEX
from utils.metrics import ConfusionMatrix, format_table


def test_hand_made_example():
    # gt:   0 0 1 1 | 2 255      pred: 0 1 1 1 | 255 2
    cm = ConfusionMatrix(4)
    cm.update(torch.tensor([0, 1, 1, 1, IGNORE_INDEX, 2]), torch.tensor([0, 0, 1, 1, 2, IGNORE_INDEX]))
    m = cm.compute(["a", "b", "c", "d"])
    assert m["per_class"]["a"]["iou"] == pytest.approx(1 / 2)  # TP 1, FN 1
    assert m["per_class"]["b"]["iou"] == pytest.approx(2 / 3)  # TP 2, FP 1
    assert m["per_class"]["b"]["dice"] == pytest.approx(4 / 5)
    assert m["per_class"]["c"]["iou"] == 0.0  # its one pixel was dropped (predicted ignore): a miss
    assert math.isnan(m["per_class"]["d"]["iou"])  # no gt, no prediction: left out of the mean
    assert m["miou"] == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)
    assert m["pixel_acc"] == pytest.approx(3 / 5)
    assert "| a | 0.5000 | 0.6667 |" in format_table(m) and "| d | n/a | n/a |" in format_table(m)


def test_against_an_independent_numpy_computation():
    rng = np.random.default_rng(0)
    n = 5
    gt = rng.integers(0, n, (4, 30, 40))
    gt[rng.random(gt.shape) < 0.1] = IGNORE_INDEX
    pred = np.where(rng.random(gt.shape) < 0.6, gt, rng.integers(0, n, gt.shape))
    pred[pred == IGNORE_INDEX] = 0
    cm = ConfusionMatrix(n)
    for b in range(4):  # batch by batch, accumulated
        cm.update(torch.from_numpy(pred[b]), torch.from_numpy(gt[b]))
    m = cm.compute()
    valid = gt != IGNORE_INDEX
    for c in range(n):
        tp = np.sum((pred == c) & (gt == c) & valid)
        fp = np.sum((pred == c) & (gt != c) & valid)
        fn = np.sum((pred != c) & (gt == c) & valid)
        assert m["per_class"][str(c)]["iou"] == pytest.approx(tp / (tp + fp + fn))
        assert m["per_class"][str(c)]["dice"] == pytest.approx(2 * tp / (2 * tp + fp + fn))


# Each process's own pixels: (predictions, ground truth).
PARTS = (([0, 1, 2, 2], [0, 1, 1, 2]), ([1, 1, 0], [1, 0, 0]))


def _reduce_in_process(rank: int, rendezvous: str, out: str) -> None:
    """One of two processes of a gloo group: counts its own part, then ConfusionMatrix.reduce()."""
    dist.init_process_group(
        "gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2, timeout=timedelta(seconds=60)
    )
    try:
        cm = ConfusionMatrix(3)
        cm.update(*(torch.tensor(v) for v in PARTS[rank]))
        torch.save(cm.reduce().matrix, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def reduced_in_two_processes(tmp_path) -> list:
    """What ConfusionMatrix.reduce() leaves on each rank of a real 2-process group."""
    torch.multiprocessing.spawn(_reduce_in_process, args=(str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2)
    return [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]


def test_matrices_merge_by_summation(tmp_path):
    a, b, both = ConfusionMatrix(3), ConfusionMatrix(3), ConfusionMatrix(3)
    (x1, y1), (x2, y2) = ((torch.tensor(x), torch.tensor(y)) for x, y in PARTS)
    a.update(x1, y1)
    b.update(x2, y2)
    both.update(torch.cat([x1, x2]), torch.cat([y1, y2]))
    assert not torch.equal(a.matrix, both.matrix) and not torch.equal(b.matrix, both.matrix)  # each has a part
    a.matrix, b.matrix = reduced_in_two_processes(tmp_path)  # reduce() on each rank of a gloo group
    assert torch.equal(a.matrix, both.matrix)
    assert torch.equal(b.matrix, both.matrix)


def test_void_classes_are_scored_as_the_official_evaluator_does():
    # gt:   void void x x y       pred: x void x void y
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([1, 0, 1, 0, 2]), torch.tensor([0, 0, 1, 1, 2]))
    m = cm.compute(["void", "x", "y"], void_classes=(0,))
    # x on a void pixel is no false positive; void predicted on an x pixel is a miss.
    assert m["miou_no_void"] == pytest.approx((1 / 2 + 1.0) / 2)
    assert m["per_class"]["x"]["iou_no_void"] == pytest.approx(1 / 2) and m["per_class"]["y"][
        "iou_no_void"
    ] == pytest.approx(1.0)
    assert "iou_no_void" not in m["per_class"]["void"]
    # Over all trained classes the void class is a class like any other: x has TP 1, FP 1, FN 1.
    assert m["per_class"]["x"]["iou"] == pytest.approx(1 / 3)
    assert m["miou"] == pytest.approx((1 / 3 + 1 / 3 + 1.0) / 3)


def test_one_images_scores_are_that_images_dataset_scores():
    from utils.evaluation.per_image import image_scores

    cm = ConfusionMatrix(4)
    counts = cm.update(torch.tensor([0, 1, 1, 1, IGNORE_INDEX, 2, 0]), torch.tensor([0, 0, 1, 1, 2, IGNORE_INDEX, 3]))
    dataset, image = cm.compute(), image_scores(counts.numpy())
    for c in range(4):
        assert image["iou"][c] == pytest.approx(dataset["per_class"][str(c)]["iou"], nan_ok=True)
    assert image["miou"] == pytest.approx(dataset["miou"]) and image["pixel_acc"] == pytest.approx(dataset["pixel_acc"])


def test_scores_are_formatted_with_missing_ones_as_n_a():
    assert [format_number(v) for v in (0.5, float("nan"), None, np.float64(0.25))] == ["0.5000", "n/a", "n/a", "0.2500"]
    assert format_number(1 / 3, digits=2) == "0.33"
