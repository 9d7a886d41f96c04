"""The public Python API: a trained checkpoint as a function, :class:`Predictor`.

In your own code (a ROS node, a notebook)::

    from utils.evaluation.predictor import Predictor

    with Predictor.from_checkpoint("runs/quickstart/best.pth", tta="hflip", drop_clusters=20) as predictor:
        classes = predictor(rgb)                  # (H, W) uint8 class indices at the image's size
        probs = predictor.probabilities(rgb)      # (C, H, W) float32

It predicts through eval.py's own :class:`~utils.evaluation.predict.PredictionStep`, so it gives eval's class maps.
"""

import numpy as np

from utils.data.transforms import prediction_batch
from utils.evaluation.setup import build_eval_setup
from utils.runtime import get_logger


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
