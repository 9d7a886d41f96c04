"""Predictors and prediction steps end their DropClusters threads when closed, not at garbage collection."""

import logging
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from utils.config import config_from_dict
from utils.data.families import dataset_family
from utils.evaluation.predict import PredictionStep, Predictor
from utils.evaluation.tta import tta_views
from utils.labels import build_labels

LOG = logging.getLogger("test_cleanup")


class Model:
    """Uniform probabilities with one class per image column third; raises on call ``fail_at`` (1-based)."""

    def __init__(self, num_classes: int, fail_at: int = 0):
        self.num_classes, self.fail_at, self.calls = num_classes, fail_at, 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("the device fell over")
        n, _, h, w = x.shape
        classes = (torch.arange(w) * 3 // w).view(1, 1, w).expand(n, h, w)
        return torch.nn.functional.one_hot(classes, self.num_classes).permute(0, 3, 1, 2).float()


def fake_setup(tmp_path: Path, model, *overrides):
    """What build_eval_setup gives eval, videos and painting, with ``model`` in place of a checkpoint's."""
    out = tmp_path / "out"
    cfg = config_from_dict(
        {},
        [
            "dataset.size=[32,64]",
            "eval.batch_size=1",
            "eval.num_workers=0",
            "eval.device=cpu",
            "eval.drop_clusters=4",
            f"eval.output_dir={out}",
            f"paths.output_dir={tmp_path}",
            *overrides,
        ],
    )
    labels = build_labels("cityscapes", "categories")
    step = PredictionStep(model, tta_views("none"), labels.num_classes, drop_clusters=cfg.eval.drop_clusters)
    out.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(
        cfg=cfg,
        labels=labels,
        step=step,
        predictor=model,
        views=tta_views("none"),
        checkpoint=tmp_path / "best.pth",
        output_dir=out,
        device=torch.device("cpu"),
        drop_fill="majority",
        family=dataset_family(cfg),
        pictures=[],
    )


def drop_cluster_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("drop-clusters")]


def frames(count: int, h: int = 48, w: int = 64) -> list:
    return [np.full((h, w, 3), 20 * k, np.uint8) for k in range(count)]


def test_predictors_closed_or_used_with_with_leave_no_threads(tmp_path):
    image = frames(1, 40, 60)[0]
    before, threads_before = len(drop_cluster_threads()), threading.active_count()
    predictors = []  # kept alive: threads must end by close(), not by garbage collection
    for k in range(20):
        predictor = Predictor(fake_setup(tmp_path / str(k), Model(8)))
        predictors.append(predictor)
        if k % 2:
            with predictor as p:
                assert p(image).shape == (40, 60)
                assert drop_cluster_threads()  # DropClusters > 0: the pool is running
        else:
            assert predictor(image).shape == (40, 60)
            predictor.close()
    assert len(drop_cluster_threads()) == before and threading.active_count() <= threads_before
    # A closed predictor still predicts (its pool starts again) and closes again.
    with predictors[0] as p:
        assert p([image, image])[1].shape == (40, 60)
    assert len(drop_cluster_threads()) == before
