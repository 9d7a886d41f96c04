"""Pseudo-labels for review: eval.input's images with the model's confident predictions as label files.

With ``eval.pseudo_label_threshold`` set, eval writes ``<eval output>/pseudo_labels/`` in the folder family's
layout (utils/data/families/folder.py), so that a labelling tool can load the pairs for correction and
``target: folder`` trains on them as they are::

    classes.yaml                          the checkpoint's classes in its order: name, value, colour; ignore
    images/train/<relative path>.<ext>    the input image, hard-linked (copied across file systems); a video
                                          frame as <video stem>_<frame index>.png
    labels/train/<relative path>.png      single-channel 8-bit label values in the checkpoint's dataset encoding

A pixel gets its class's label value (:meth:`~utils.data.families.base.DatasetFamily.label_values`: what eval's
``results/`` writes, e.g. Cityscapes label ids) where the confidence, the max of the merged probabilities (TTA
included, after the model's sigmoid or softmax), is at or above the threshold and DropClusters left it as it was;
every other pixel gets the ignore value. The comparison runs on the device: one uint8 map per image comes back.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import torch
import yaml

from utils.config.errors import UserError
from utils.data.families.base import IMAGE_SUFFIXES as FOLDER_IMAGE_SUFFIXES
from utils.data.segmentation import read_rgb
from utils.files import atomic_write_text
from utils.visualize import save_gray, save_rgb

FOLDER = "pseudo_labels"
SPLIT = "train"


def pseudo_label_encoding(setup) -> tuple:
    """(label value per class, ignore value) for ``setup``'s checkpoint; a UserError where its family's label
    files hold no value per pixel, or without eval.input."""
    cfg, family, labels = setup.cfg, setup.family, setup.labels
    if not cfg.eval.input:
        raise UserError(
            "eval.pseudo_label_threshold needs eval.input: give a folder of images (or a video) to write pseudo-labels "
            "for, e.g. --set eval.input=data/unlabelled"
        )
    values = family.label_values(labels)
    if values is None:
        raise UserError(
            f"eval.pseudo_label_threshold: target {family.name} in label mode '{family.mode}' has no label value per "
            "pixel to write pseudo-labels in (its label files are not single-channel values); set it to null for this "
            "checkpoint"
        )
    # Where a class holds the value a dropped pixel would get (Cityscapes' 'unlabeled' class is id 0), ignore
    # takes the largest value no class has, as the folder family does.
    ignore = labels.ignore_value if labels.ignore_value not in values else max(set(range(256)) - set(values))
    return values, ignore


def classes_yaml(names, values, colors, ignore: int, note: str) -> str:
    """The folder family's classes.yaml text: ``ignore: [v]`` and each class's name, value and colour in order."""
    entries = [
        {"name": str(n), "value": int(v), "color": [int(c) for c in rgb]} for n, v, rgb in zip(names, values, colors)
    ]
    body = yaml.safe_dump({"ignore": [int(ignore)], "classes": entries}, sort_keys=False, default_flow_style=None)
    return f"# {note}\n{body}"


class PseudoLabelWriter:
    """Writes ``pseudo_labels/`` for each image eval predicts (module doc); :meth:`report` logs the summary.

    eval.py refuses an eval output that already holds pseudo-labels (:func:`check_pseudo_labels`), so the folder
    holds one run's pairs and corrections made in an earlier one are never overwritten.

    Args:
        setup: the :class:`~utils.evaluation.setup.EvalSetup`; its ``cfg.eval.pseudo_label_threshold`` is set.
    """

    def __init__(self, setup):
        self.values, self.ignore = pseudo_label_encoding(setup)
        self.threshold = float(setup.cfg.eval.pseudo_label_threshold)
        self.root = setup.output_dir / FOLDER
        labels = setup.labels
        self.table = np.full(256, self.ignore, np.uint8)  # class index -> label value; IGNORE_INDEX -> ignore
        self.table[: labels.num_classes] = self.values
        note = (
            f"pseudo-labels of {setup.checkpoint}: pixels with confidence below {self.threshold} or changed by "
            f"DropClusters are {self.ignore}"
        )
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.root / "classes.yaml", classes_yaml(labels.names, self.values, labels.colors, self.ignore, note)
        )
        self.files = self.pixels = self.kept = self.dropped = 0

    def reduce(self, probs: torch.Tensor) -> torch.Tensor:
        """(C, H, W) probabilities on the device -> (H, W) uint8, 1 where the confidence is at or above the threshold."""
        return (probs.max(0).values >= self.threshold).to(torch.uint8)

    def add(self, relative: Path, image, prediction) -> None:
        """One image: ``relative`` is its path under the images folder; ``image`` its file (linked or copied) or an
        (H, W, 3) RGB array (a video frame, written as PNG); ``prediction`` the step's, made with :meth:`reduce`."""
        image_path = self.root / "images" / SPLIT / relative
        if isinstance(image, np.ndarray):
            save_rgb(image_path.with_suffix(".png"), image)
        elif image_path.suffix.lower() not in FOLDER_IMAGE_SUFFIXES:  # .bmp, .tif, .webp: the folder family reads PNG
            save_rgb(image_path.with_suffix(".png"), read_rgb(image))
        else:
            _link_or_copy(Path(image), image_path)
        kept = prediction.extra.astype(bool)
        changed = prediction.final != prediction.raw
        kept &= ~changed
        values = self.table[prediction.final]
        values[~kept] = self.ignore
        save_gray(self.root / "labels" / SPLIT / Path(relative).with_suffix(".png"), values)
        self.files += 1
        self.pixels += values.size
        self.kept += int(kept.sum())
        self.dropped += int(changed.sum())

    def report(self, log) -> None:
        share = self.kept / max(self.pixels, 1)
        dropped = f", DropClusters changed {self.dropped / max(self.pixels, 1):.2%}" if self.dropped else ""
        log.info(
            f"pseudo-labels: {self.files} label files in {self.root} (images/{SPLIT}, labels/{SPLIT}, classes.yaml); "
            f"{share:.2%} of pixels kept (confidence >= {self.threshold}), the rest ignore value {self.ignore}"
            f"{dropped}"
        )


def check_pseudo_labels(setup) -> None:
    """Stops before any prediction when ``eval.pseudo_label_threshold`` is set but cannot be honoured, or when the
    eval output already holds pseudo-labels: someone may be correcting them, and they are never overwritten."""
    if setup.cfg.eval.pseudo_label_threshold is None:
        return
    pseudo_label_encoding(setup)
    earlier = setup.output_dir / FOLDER
    if any((earlier / part).exists() for part in ("images", "labels", "classes.yaml")):
        raise UserError(
            f"'{earlier}' already holds pseudo-labels from an earlier eval (perhaps being corrected); they are never "
            "overwritten. Move or delete that folder, or give another eval.output_dir."
        )


def pseudo_label_writer(setup):
    """A :class:`PseudoLabelWriter` when ``eval.pseudo_label_threshold`` is set, else None."""
    if setup.cfg.eval.pseudo_label_threshold is None:
        return None
    return PseudoLabelWriter(setup)


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes ``src`` byte for byte: a hard link, or a copy where links cannot cross file systems."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
