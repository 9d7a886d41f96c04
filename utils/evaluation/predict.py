"""The one prediction step: images -> probabilities -> class maps.

eval.py, its videos, paint_points.py and the Python API (:class:`~utils.evaluation.predictor.Predictor`) all
predict through :class:`PredictionStep`: TTA views merged on the device, each image's probabilities upsampled to
its own size and argmaxed on the device, only the uint8 class map copied back, and DropClusters on a worker
thread while the device runs the next batch.
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from utils.evaluation.drop_clusters import drop_clusters
from utils.evaluation.inference import upsample_to
from utils.evaluation.tta import predict_with_tta


@dataclass
class Prediction:
    """One image's prediction at its own size.

    Attributes:
        raw: (H, W) uint8 argmax of the merged probabilities.
        final: (H, W) uint8 after DropClusters (``raw`` itself when it is off).
        extra: what the step's ``reduce`` made of the (C, H, W) probabilities on the device, copied back (or None).
        raw_on_device: ``raw`` as it was on the device, for confusion matrices counted there.
    """

    raw: np.ndarray
    final: np.ndarray
    extra: object = None
    raw_on_device: object = None


class PendingBatch:
    """A batch whose class maps are on their way (device copy, DropClusters on the worker thread)."""

    def __init__(self, raws: list, extras: list, finals: list, on_device: list):
        self._raws, self._extras, self._finals, self._on_device = raws, extras, finals, on_device

    def result(self) -> list:
        finals = [f.result() if hasattr(f, "result") else f for f in self._finals]
        return [Prediction(*row) for row in zip(self._raws, finals, self._extras, self._on_device)]


class PredictionStep:
    """images (N, 3, h, w) normalised at the model's input size -> one :class:`Prediction` per image at its own size.

    DropClusters runs on a few worker threads, started at the first batch that needs them; :meth:`close`
    ends them (in a ``finally``: threads are not collected with the step), and a later batch starts them again.

    Args:
        model: (N, 3, h, w) -> (N, C, h, w) probabilities (an :class:`~utils.evaluation.inference.ModelRunner`).
        views: TTA views (:func:`~utils.evaluation.tta.tta_views`); merge and t: how they are merged.
        num_classes: C.
        drop_clusters: DropClusters' minimum component size in pixels; 0 turns it off.
        drop_fill: ``"majority"``, ``"ignore"`` or a class index.
    """

    def __init__(
        self,
        model,
        views: list,
        num_classes: int,
        merge: str = "mean",
        t: float = 0.5,
        drop_clusters: int = 0,
        drop_fill="majority",
    ):
        self.model, self.views, self.merge, self.t = model, views, merge, t
        self.num_classes, self.drop_size, self.drop_fill = num_classes, drop_clusters, drop_fill
        self._pool, self._pool_lock = None, threading.Lock()

    def _drop_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:  # a Predictor may be called from several threads (ROS callbacks): one pool
            if self._pool is None:
                # A few threads: the labelling and the vote counting run in NumPy and scikit-image, mostly without
                # the GIL.
                workers = max(1, min(4, (os.cpu_count() or 2) - 1))
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drop-clusters")
            return self._pool

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) merged probabilities on the device; the TTA views are made there too (one copy of the batch)."""
        device = getattr(self.model, "device", images.device)
        return predict_with_tta(self.model, images.to(device, non_blocking=True), self.views, self.merge, self.t)

    def submit(
        self, images: torch.Tensor, sizes: list, reduce: Optional[Callable] = None, clean: bool = True
    ) -> PendingBatch:
        """Starts one batch; ``sizes`` are each image's (H, W); ``reduce`` maps an image's (C, H, W) device
        probabilities to what the caller keeps (e.g. KITTI's uint8 road confidence), computed on the device;
        ``clean=False`` skips DropClusters (``final`` is ``raw``) for callers that use only ``extra``."""
        probs = self.probabilities(images)
        raws, extras, finals, on_device = [], [], [], []
        for k, size in enumerate(sizes):
            p = upsample_to(probs[k], [int(s) for s in size])
            device_map = p.argmax(0).to(torch.uint8)
            raw = device_map.cpu().numpy()
            extra = reduce(p) if reduce is not None else None
            raws.append(raw)
            on_device.append(device_map)
            extras.append(extra.cpu().numpy() if isinstance(extra, torch.Tensor) else extra)
            finals.append(
                self._drop_pool().submit(drop_clusters, raw, self.drop_size, self.drop_fill, self.num_classes)
                if self.drop_size > 0 and clean
                else raw
            )
        return PendingBatch(raws, extras, finals, on_device)

    def __call__(
        self, images: torch.Tensor, sizes: list, reduce: Optional[Callable] = None, clean: bool = True
    ) -> list:
        return self.submit(images, sizes, reduce, clean).result()

    def close(self) -> None:
        """Ends DropClusters' worker threads; work not yet started is cancelled (its batch is abandoned)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def pipelined(step: PredictionStep, batches, submit: Callable):
    """Yields ``(batch, predictions)`` one batch behind: batch i+1 is on the device while batch i's DropClusters runs."""
    pending = None
    for batch in batches:
        current = (batch, submit(batch))
        if pending is not None:
            yield pending[0], pending[1].result()
        pending = current
    if pending is not None:
        yield pending[0], pending[1].result()
