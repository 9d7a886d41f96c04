"""The one prediction step (images -> probabilities -> class maps) and the public Python API, :class:`Predictor`.

eval.py, its videos and paint_points.py all predict through :class:`PredictionStep`: TTA views merged on
the device, each image's probabilities upsampled to its own size and argmaxed on the device, only the uint8
class map copied back, and DropClusters on a worker thread while the device runs the next batch.

In your own code (a ROS node, a notebook)::

    from utils.evaluation.predict import Predictor

    with Predictor.from_checkpoint("runs/quickstart/best.pth", tta="hflip", drop_clusters=20) as predictor:
        classes = predictor(rgb)              # (H, W) uint8 class indices at the image's size
        probs = predictor.probabilities(rgb)  # (C, H, W) float32
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from utils.data.transforms import prediction_batch
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


class Predictor:
    """A trained checkpoint as a function: RGB uint8 images of any size in, class maps at their size out.

    Everything but the few run-time choices comes from the checkpoint: the classes and their colours, the
    input size it was trained at, the loss (sigmoid or softmax), the architecture. Build it with
    :meth:`from_checkpoint`, and :meth:`close` it when done (or use ``with``): with DropClusters on it holds
    worker threads.

    Attributes:
        names: class names, index = class index.
        palette: (256, 3) uint8 colours for :func:`utils.visualize.colorize`; ignored pixels black.
        size: [H, W] the images are resized to before the model, the training scale.
    """

    def __init__(self, setup, batch_size: int = 4):
        self.setup, self.batch_size = setup, batch_size
        cfg = setup.cfg
        self.names, self.palette, self.size = list(setup.labels.names), setup.labels.palette(), list(cfg.dataset.size)
        self.labels = setup.labels
        self.step = setup.step

    @classmethod
    def from_checkpoint(
        cls,
        path,
        device: str = "auto",
        tta: str = "none",
        drop_clusters: int = 0,
        backend: str = "pytorch",
        onnx=None,
        batch_size: int = 4,
    ) -> "Predictor":
        """The model of ``path`` (a best.pth or last.pth of train.py) ready to predict.

        Args:
            path: the checkpoint.
            device: auto (CUDA when available), cpu or cuda.
            tta: none, hflip, vflip, hvflip or multiscale (eval.tta).
            drop_clusters: DropClusters' minimum component size in pixels at the image's size; 0 turns it off.
            backend: pytorch, or onnxruntime to run ``onnx`` (default: model.onnx beside the checkpoint).
            batch_size: images per model call.
        """
        from utils.evaluation.setup import build_eval_setup
        from utils.runtime import get_logger

        overrides = [
            f"eval.device={device}",
            f"eval.tta={tta}",
            f"eval.drop_clusters={int(drop_clusters)}",
            f"eval.backend={backend}",
        ]
        if onnx is not None:
            overrides.append(f"eval.onnx={onnx}")
        return cls(build_eval_setup(None, str(path), overrides, get_logger(), make_output=False), batch_size)

    def _images(self, images) -> tuple:
        single = isinstance(images, np.ndarray) and images.ndim != 4  # (N, H, W, 3) is a batch
        batch = [images] if single else list(images)
        for i, image in enumerate(batch):
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                got = f"{type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}".strip()
                raise ValueError(
                    f"Predictor takes RGB uint8 images of shape (H, W, 3), or a list of them; image {i} is {got}."
                )
        return single, batch

    def _run(self, images, reduce=None, clean: bool = True) -> tuple:
        single, batch = self._images(images)
        out = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start : start + self.batch_size]
            x = prediction_batch(chunk, self.size)
            out += self.step(x, [image.shape[:2] for image in chunk], reduce, clean)
        return single, out

    def __call__(self, images):
        """(H, W, 3) RGB uint8 -> (H, W) uint8 class indices (after DropClusters); a list gives a list."""
        single, out = self._run(images)
        maps = [p.final for p in out]
        return maps[0] if single else maps

    def probabilities(self, images):
        """(H, W, 3) RGB uint8 -> (C, H, W) float32 merged probabilities at the image's size; a list gives a list."""
        single, out = self._run(images, reduce=lambda p: p.float(), clean=False)
        probs = [p.extra for p in out]
        return probs[0] if single else probs

    def colorize(self, class_map: np.ndarray) -> np.ndarray:
        """(H, W) class indices -> (H, W, 3) uint8 RGB in the classes' colours."""
        return self.palette[class_map]

    def close(self) -> None:
        """Ends the DropClusters worker threads now rather than at exit; a later call starts them again."""
        self.step.close()

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
