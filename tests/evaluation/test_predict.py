"""The prediction step's pipelining: results in order, one batch behind, with DropClusters on worker threads."""

import threading
import time

import numpy as np
import torch

from utils.evaluation import predict
from utils.evaluation.drop_clusters import drop_clusters
from utils.evaluation.predict import PredictionStep, pipelined
from utils.evaluation.tta import tta_views


class Stripes(torch.nn.Module):
    """Probabilities of 3 classes in vertical stripes that depend on the image's mean k, so every batch has its own
    answer, and in the first stripe a one-pixel island of another class at (k, 2), which DropClusters removes."""

    def forward(self, x):
        n, _, h, w = x.shape
        base = torch.arange(w, dtype=torch.float32).div(w).mul(3).floor().view(1, 1, w).expand(n, h, w)
        k = x.mean((1, 2, 3)).round()
        classes = ((base + k.view(n, 1, 1)) % 3).long()
        rows = k.long() % h
        classes[torch.arange(n), rows, 2] = (classes[torch.arange(n), rows, 2] + 1) % 3
        return torch.nn.functional.one_hot(classes, 3).permute(0, 3, 1, 2).float()


def island_row(pred: np.ndarray) -> int:
    """The batch a class map belongs to: the row of its island (the one pixel of column 2 unlike column 0)."""
    return int(np.flatnonzero(pred[:, 2] != pred[:, 0])[0])


def test_pipelined_batches_come_back_in_order_with_dropclusters_applied(monkeypatch):
    slow_calls, events, lock = [], [], threading.Lock()
    on_device = [threading.Event() for _ in range(4)]  # set when batch k reaches the model

    class Recorded(Stripes):
        def forward(self, x):
            k = int(x[0, 0, 0, 0])
            with lock:
                events.append(("device", k))
            on_device[k].set()
            return super().forward(x)

    def slow_drop(pred, *args):
        batch = island_row(pred)
        if batch + 1 < len(on_device):
            # A pipelined step sent batch + 1 to the device before collecting this batch: the wait ends at once.
            # A step that waited for this batch first would have it time out, and finish it before that.
            on_device[batch + 1].wait(timeout=5)
        time.sleep(0.05 if len(slow_calls) % 2 == 0 else 0.0)  # the first of each pair finishes last
        slow_calls.append(1)
        out = drop_clusters(pred, *args)
        with lock:
            events.append(("dropped", batch))
        return out

    monkeypatch.setattr(predict, "drop_clusters", slow_drop)
    step = PredictionStep(Recorded(), tta_views("none"), 3, drop_clusters=4, drop_fill="majority")
    batches = [torch.full((2, 3, 16, 24), float(k)) for k in range(4)]
    seen = []
    for batch, predictions in pipelined(step, batches, lambda b: step.submit(b, [(16, 24)] * 2)):
        seen.append(int(batch[0, 0, 0, 0]))
        expected = Stripes()(batch).argmax(1)
        expected = (
            torch.nn.functional.interpolate(expected[:, None].float(), size=(16, 24), mode="nearest")[:, 0]
            .byte()
            .numpy()
        )
        for k, p in enumerate(predictions):
            assert p.raw.shape == (16, 24) and (p.raw == expected[k]).all()
            assert (p.final == drop_clusters(p.raw, 4, "majority", 3)).all() and (
                p.raw_on_device.numpy() == p.raw
            ).all()
            # DropClusters really ran: the island, and only it, took its stripe's class.
            row = seen[-1]
            assert (p.final != p.raw).sum() == 1 and p.final[row, 2] == p.raw[row, 0] != p.raw[row, 2]
    assert seen == [0, 1, 2, 3] and len(slow_calls) == 8
    for i in range(3):  # batch i + 1 reached the device before any of batch i's DropClusters finished
        assert events.index(("device", i + 1)) < events.index(("dropped", i)), events
    step.close()


def test_reduce_and_clean_false_give_probabilities_without_dropclusters():
    step = PredictionStep(Stripes(), tta_views("hflip"), 3, drop_clusters=1000)
    (p,) = step(torch.zeros(1, 3, 8, 12), [(8, 12)], reduce=lambda probs: probs.float(), clean=False)
    assert p.final is p.raw and p.extra.shape == (3, 8, 12) and np.allclose(p.extra.sum(0), 1)
    step.close()
