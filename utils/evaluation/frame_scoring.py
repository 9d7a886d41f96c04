"""Frame selection's prediction pass: every frame's uncertainty score and pooled features from one forward pass,
and on a labelled split its real error; then the chosen frames' pictures and uncertainty maps.

Frames come from a folder or a video (:func:`utils.data.frames.iter_frames`) or from a dataset split (eval's
dataset and loader); either way they are resized to the checkpoint's dataset.size exactly as eval.py resizes
them and predicted through eval's :class:`~utils.evaluation.predict.PredictionStep`.
"""

import math
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import torch
from tqdm import tqdm

from utils.config.errors import UserError
from utils.data.checks import checked_items
from utils.data.frames import folder_items, is_video, iter_frames, video_info
from utils.data.loaders import build_dataset, build_loader
from utils.data.transforms import prediction_batch
from utils.evaluation.frame_features import PooledFeatures
from utils.evaluation.per_image import image_scores
from utils.evaluation.uncertainty import uncertainty_map
from utils.metrics import ConfusionMatrix

KEY = "--input"  # what frames.py's errors name


@dataclass
class Batch:
    """Images (N, 3, h, w) normalised at dataset.size, with each frame's name, (H, W), file (None for a video
    frame) and, on a labelled split, its (H, W) class-index ground truth."""

    names: list
    images: torch.Tensor
    sizes: list
    paths: list
    masks: list = None


@dataclass
class ScoredFrames:
    """Every frame's name, file (None for a video frame), score, (N, D) L2-normalised features and, on a labelled
    split, its errors: ``{"error": 1 - its mIoU, "pixel_error": 1 - its pixel accuracy}`` (NaN without labelled
    pixels); ``features_from`` names the layer pooled."""

    names: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    features: list = field(default_factory=list)
    errors: dict = None
    features_from: str = ""


def input_count(source, every: int) -> tuple:
    """(frame count or a video's estimate from its container, None when unknown; whether it is exact), before
    any model is loaded: a missing source, a folder without images or a video ffmpeg cannot open is a UserError."""
    source = Path(source)
    if source.is_file() and is_video(source):
        estimate = video_info(source, KEY)["frames"]
        return (math.ceil(estimate / max(every, 1)) if estimate else None), False
    if source.is_dir():
        return len(folder_items(source, KEY)), True
    return None, False  # iter_frames says what is wrong with it


def input_batches(source, every: int, size, batch_size: int):
    """Batches of a folder's images or a video's every ``every``-th frame; errors name --input."""
    chunk = []
    for frame in iter_frames(source, every, KEY):
        chunk.append(frame)
        if len(chunk) == batch_size:
            yield _frame_batch(chunk, size)
            chunk = []
    if chunk:
        yield _frame_batch(chunk, size)


def _frame_batch(frames: list, size) -> Batch:
    images = prediction_batch([f.image for f in frames], size)
    return Batch([f.name for f in frames], images, [f.image.shape[:2] for f in frames], [f.path for f in frames])


def split_frames(setup, split: str, batch_size: int, log) -> tuple:
    """(batches of a dataset split with their ground truth, frame count): eval's dataset and loader."""
    cfg = setup.cfg
    items = checked_items(cfg, (split,), log)[split]
    purpose = "eval" if setup.family.has_labels(split) else "predict"
    dataset = build_dataset(cfg, setup.labels, split, purpose, size=cfg.dataset.size, items=items)
    loader = build_loader(dataset, batch_size, cfg.eval.num_workers, train=False)

    def batches():
        for batch in loader:
            paths = [dataset.items[int(i)].image for i in batch["index"]]
            masks = list(batch["mask"]) if "mask" in batch else None
            yield Batch(batch["name"], batch["image"], batch["original_size"].tolist(), paths, masks)

    return batches(), len(dataset)


def score_frames(setup, batches, total, score: str, confidence: float) -> ScoredFrames:
    """Predicts every batch once: the score from the probabilities at each frame's own size, the features from a
    forward hook on the same model call, the error from the class map against the ground truth."""
    out = ScoredFrames()
    matrix = ConfusionMatrix(setup.labels.num_classes, device=setup.device)
    features = PooledFeatures(setup.predictor.model)
    out.features_from = features.description

    def reduce(probs):
        return uncertainty_map(probs, score, confidence).mean()

    try:
        with features, tqdm(total=total, desc="score frames", unit="frame", dynamic_ncols=True) as bar:
            for batch in batches:
                predictions = setup.step(batch.images, batch.sizes, reduce, clean=False)
                out.features.append(features.take(len(batch.names)).cpu().numpy())
                out.names += batch.names
                out.paths += batch.paths
                out.scores += [float(p.extra) for p in predictions]
                if batch.masks is not None:
                    counts = [matrix.update(p.raw_on_device, gt) for p, gt in zip(predictions, batch.masks)]
                    per_image = [image_scores(c) for c in torch.stack(counts).cpu().numpy()]  # one copy a batch
                    out.errors = out.errors or {"error": [], "pixel_error": []}
                    out.errors["error"] += [1.0 - s["miou"] for s in per_image]
                    out.errors["pixel_error"] += [1.0 - s["pixel_acc"] for s in per_image]
                bar.update(len(batch.names))
    finally:
        setup.step.close()
    return out


def chosen_pictures(setup, frames: ScoredFrames, chosen: list, source, every: int, score, confidence) -> list:
    """[(RGB frame, (H, W) uncertainty map)] of the ``chosen`` frames, in that order: files are read again, a
    video is decoded again up to its last chosen frame; the maps are predicted again for these frames only."""
    wanted = {frames.names[i]: i for i in chosen}
    images = {}
    if any(frames.paths[i] is None for i in chosen):  # video frames
        with closing(iter_frames(source, every, KEY)) as video:  # closing stops ffmpeg after the last one wanted
            for frame in video:
                if frame.name in wanted:
                    images[wanted[frame.name]] = frame.image
                    if len(images) == len(wanted):
                        break
    for i in chosen:
        if frames.paths[i] is not None:
            image = cv2.imread(str(frames.paths[i]), cv2.IMREAD_COLOR)
            if image is None:
                raise UserError(f"Cannot read image '{frames.paths[i]}' again: it changed during the selection.")
            images[i] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    pictures = []
    batch_size = setup.cfg.eval.batch_size
    try:
        for start in range(0, len(chosen), batch_size):
            rgb = [images[i] for i in chosen[start : start + batch_size]]
            x = prediction_batch(rgb, setup.cfg.dataset.size)
            maps = setup.step(x, [im.shape[:2] for im in rgb], lambda p: uncertainty_map(p, score, confidence), False)
            pictures += [(im, p.extra) for im, p in zip(rgb, maps)]
    finally:
        setup.step.close()
    return pictures
