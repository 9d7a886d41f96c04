"""The ``unlabeled`` section of the schema: semi-supervised training on images without labels (FixMatch-style).

Off by default (neither ``source`` nor ``split``). Every key changes the data order or the loss, so ``--resume`` must
find it unchanged.
"""

from dataclasses import dataclass
from typing import Literal, Optional

from utils.config.declare import Rule, at_least, not_negative, opt, positive

_PROBABILITY = Rule(lambda v: 0 <= v <= 1, "must lie in [0, 1]")


@dataclass(frozen=True)
class UnlabeledConfig:
    source: Optional[str] = opt(
        None,
        "semi-supervised training: a folder of unlabelled images (searched recursively) or a video file; null: off "
        "(or split); changes the data order",
        on_resume="match",
        rule=Rule(lambda v: v is None or v.strip() != "", "must be a folder or video path, or null"),
    )
    every: int = opt(
        1, "a video source: take every k-th frame; changes the data order", on_resume="match", rule=at_least(1)
    )
    split: Optional[str] = opt(
        None,
        "instead of source: a split of the run's dataset read without its labels (train, val, test; cityscapes also "
        "train_extra, its coarse set's images); images among the labelled training items are left out, so train with a labelled subset "
        "means the rest of train; changes the data order",
        on_resume="match",
    )
    ratio: float = opt(
        1.0,
        "unlabelled images per labelled image in each micro-batch: max(1, round(ratio * batch_size)) per process; "
        "changes the data order",
        on_resume="match",
        rule=positive(),
    )
    teacher: Literal["self", "ema"] = opt(
        "self",
        "what predicts the pseudo-labels on the weak view: self (the model in eval mode, without gradient) or ema "
        "(an exponential moving average of its weights, Mean Teacher); changes the loss",
        on_resume="match",
    )
    ema_decay: float = opt(
        0.999,
        "ema teacher: decay, warmed up as min(ema_decay, 1 - 1 / (step + 1)) after each optimizer step; changes the loss",
        on_resume="match",
        rule=Rule(lambda v: 0 <= v < 1, "must lie in [0, 1)"),
    )
    threshold: float = opt(
        0.95,
        "pseudo-labels count only where the teacher's confidence (its top class probability) is at or above this; "
        "changes the loss",
        on_resume="match",
        rule=Rule(lambda v: 0 < v <= 1, "must lie in (0, 1]"),
    )
    weight: float = opt(
        1.0,
        "weight of the unlabelled loss added to the labelled one; changes the loss",
        on_resume="match",
        rule=not_negative(),
    )
    keep_per_class: float = opt(
        0.0,
        "class-balanced pseudo-labels (CBST's, within each unlabelled batch): besides the pixels at or above threshold, "
        "each class keeps the most confident share of the valid pixels the teacher gives it, so a class it is rarely "
        "sure of (poles, pedestrians) still gets pseudo-labels; 0 turns it off; changes the loss",
        on_resume="match",
        rule=_PROBABILITY,
    )
    normalize: Literal["all", "confident"] = opt(
        "all",
        "what the unlabelled loss is averaged over: all (FixMatch's and UniMatch's: it is scaled by the share of valid "
        "pixels that are confident, so a cross-entropy sums over the confident pixels and divides by all of them, and "
        "weighs little while the teacher is unsure) or confident (the mean over the confident pixels alone, full "
        "weight from the first confident pixel on); changes the loss",
        on_resume="match",
    )
    start_iters: int = opt(
        0,
        "optimizer steps before the unlabelled loss is added (its batches are drawn from the start, so the data order "
        "does not depend on it); changes the loss",
        on_resume="match",
        rule=not_negative(),
    )
    color_jitter: float = opt(
        0.5,
        "strong view: brightness, contrast and saturation jitter, hue jitter half of it, with p 0.8 (UniMatch's); "
        "0 turns it off; changes the loss",
        on_resume="match",
        rule=Rule(lambda v: 0 <= v <= 1, "must lie in [0, 1]"),
    )
    grayscale_p: float = opt(
        0.2, "strong view: probability of a grayscale image; changes the loss", on_resume="match", rule=_PROBABILITY
    )
    blur_p: float = opt(
        0.5,
        "strong view: probability of a Gaussian blur, sigma 0.1-2.0; changes the loss",
        on_resume="match",
        rule=_PROBABILITY,
    )
    cutmix_p: float = opt(
        0.5,
        "strong view: probability that an image takes a box (2-40% of its area, aspect 0.3-3.3) from the next image of "
        "the unlabelled batch, with that image's pseudo-labels; changes the loss",
        on_resume="match",
        rule=_PROBABILITY,
    )

    @property
    def enabled(self) -> bool:
        return self.source is not None or self.split is not None
