"""The prediction step's pipelining: results in order, one batch behind, with DropClusters on worker threads."""

import time

import numpy as np
import torch

from utils.evaluation import predict
from utils.evaluation.drop_clusters import drop_clusters
from utils.evaluation.predict import PredictionStep, pipelined
from utils.evaluation.tta import tta_views


class Stripes(torch.nn.Module):
    """Probabilities of 3 classes that depend on the image's mean, so every batch has its own answer."""

    def forward(self, x):
        n, _, h, w = x.shape
        base = torch.arange(w, dtype=torch.float32).div(w).mul(3).floor().view(1, 1, w).expand(n, h, w)
        classes = (base + x.mean((1, 2, 3)).round().view(n, 1, 1)) % 3
        return torch.nn.functional.one_hot(classes.long(), 3).permute(0, 3, 1, 2).float()


def test_pipelined_batches_come_back_in_order_with_dropclusters_applied(monkeypatch):
    slow_calls = []

    def slow_drop(pred, *args):
        time.sleep(0.05 if len(slow_calls) % 2 == 0 else 0.0)  # the first of each pair finishes last
        slow_calls.append(1)
        return drop_clusters(pred, *args)

    monkeypatch.setattr(predict, "drop_clusters", slow_drop)
    step = PredictionStep(Stripes(), tta_views("none"), 3, drop_clusters=4, drop_fill="majority")
    batches = [torch.full((2, 3, 8, 12), float(k)) for k in range(4)]
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
    assert seen == [0, 1, 2, 3] and len(slow_calls) == 8
    step.close()


def test_reduce_and_clean_false_give_probabilities_without_dropclusters():
    step = PredictionStep(Stripes(), tta_views("hflip"), 3, drop_clusters=1000)
    (p,) = step(torch.zeros(1, 3, 8, 12), [(8, 12)], reduce=lambda probs: probs.float(), clean=False)
    assert p.final is p.raw and p.extra.shape == (3, 8, 12) and np.allclose(p.extra.sum(0), 1)
    step.close()
