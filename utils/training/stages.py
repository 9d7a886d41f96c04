"""The plan of a run: its stages (sizes, batch sizes, lrs), in epochs or, with training.max_iters, in steps."""

import math
from dataclasses import dataclass, replace

from utils.config.errors import UserError


@dataclass(frozen=True)
class Stage:
    """One stage of a run. ``max_steps`` > 0 means iteration mode: the run ends after that many optimizer
    steps (``training.max_iters``), and ``epochs`` is worked out from the loader's length."""

    index: int
    epochs: int
    size: tuple
    batch_size: int
    lr: float
    max_steps: int = 0


def plan_stages(cfg) -> list:
    """training.stages, or one stage made of training.epochs (or max_iters) / dataset.size / batch_size / lr."""
    t = cfg.training
    if not t.stages:
        return [Stage(0, t.epochs, tuple(cfg.dataset.size), t.batch_size, t.lr, t.max_iters)]
    pick = lambda value, default: default if value is None else value  # noqa: E731
    return [
        Stage(i, s.epochs, tuple(pick(s.size, cfg.dataset.size)), pick(s.batch_size, t.batch_size), pick(s.lr, t.lr))
        for i, s in enumerate(t.stages)
    ]


def batches_per_epoch(t, loader_batches: int, images: int, batch_size: int) -> int:
    """The batches of an epoch, per process: whole optimizer steps of ``t.accumulation_steps`` micro-batches, at
    most ``t.iters_per_epoch`` steps; ``loader_batches`` and ``images`` describe the stage's training loader."""
    accum = t.accumulation_steps
    batches = (loader_batches // accum) * accum
    if t.iters_per_epoch:
        batches = min(batches, t.iters_per_epoch * accum)
    if batches == 0:
        raise UserError(
            f"The training set has {images} images: {loader_batches} batches of {batch_size} per process, fewer "
            f"than training.accumulation_steps={accum}. Lower the batch size or accumulation_steps."
        )
    return batches


def stage_line(stage: Stage, stages: int, crop, world: int, train_images: int, val_images: int) -> str:
    """The log line that opens a stage: its length, scale, batch, lr and data."""
    unit = f"{stage.max_steps} steps ({stage.epochs} epochs)" if stage.max_steps else f"{stage.epochs} epochs"
    scale = f"{stage.size[0]}x{stage.size[1]}" + (f" in {crop[0]}x{crop[1]} crops" if crop else "")
    return (
        f"stage {stage.index + 1}/{stages}: {unit} at {scale}, batch {stage.batch_size} x {world} "
        f"processes, lr {stage.lr:g}; {train_images} train / {val_images} val images"
    )


def resolve_epochs(stage: Stage, steps_per_epoch: int) -> Stage:
    """In iteration mode, as many epochs as max_steps needs (the last one ends early)."""
    if not stage.max_steps:
        return stage
    return replace(stage, epochs=max(1, math.ceil(stage.max_steps / steps_per_epoch)))


def schedule_warnings(cfg, stage_steps: int, run_steps: int) -> list:
    """What would make a run silently useless: warmup or an encoder freeze that outlasts the training."""
    t, out = cfg.training, []
    if t.warmup_iters > stage_steps and t.scheduler in ("poly", "cosine"):
        peak = (stage_steps / t.warmup_iters) if t.warmup_iters else 1.0
        out.append(
            f"training.warmup_iters={t.warmup_iters} is more than this stage's {stage_steps} optimizer steps: the lr "
            "never leaves warmup "
            f"and peaks at about {peak:.0%} of training.lr. Lower warmup_iters (e.g. {max(1, stage_steps // 10)}) or "
            "train longer."
        )
    if t.freeze_encoder_iters >= run_steps:
        out.append(
            f"training.freeze_encoder_iters={t.freeze_encoder_iters} covers the whole run ({run_steps} optimizer "
            "steps): the encoder never trains. Lower it or train longer."
        )
    return out
