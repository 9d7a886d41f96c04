"""One training epoch as a plain loop, in the spirit of torchvision's ``train_one_epoch``: micro-steps summed into
optimizer steps, then the periodic actions between steps (log, validate, save).

``training.accumulation_steps`` micro-batches make one optimizer step. :func:`micro_step` runs a micro-batch's
forward and backward (under DDP the gradients are all-reduced on the step's last one only), then
``Trainer._optimizer_step`` clips and steps, or the NaN guard drops the step. Every read of a device value
(``.item()``) happens in the periodic actions, where the loop waits anyway.
"""

import time
from contextlib import nullcontext

import torch
from tqdm import tqdm

from utils.checkpoint import EpochProgress
from utils.distributed import all_reduce_sum, get_world_size, is_main_process
from utils.runtime import autocast
from utils.training.nonfinite import BufferSnapshot


def train_one_epoch(trainer, stage, epoch: int, progress: EpochProgress = None) -> tuple:
    """One pass over ``trainer``'s training loader, from where ``progress`` (a mid-epoch last.pth) stopped.

    Args:
        trainer: the :class:`~utils.training.trainer.Trainer`, set up for ``stage``.
        stage: the :class:`~utils.training.stages.Stage` being trained; ``epoch``: 0-based within it.
        progress: counts samples over all processes, so the same data order continues even on another number of
            processes; the epoch's loss sums continue too (rank 0 carries what came before).

    Returns:
        (the epoch's mean micro-batch loss over all processes, images per second over all processes).
    """
    accum = trainer.t.accumulation_steps
    tally = EpochTally(progress, trainer.device, per_batch=stage.batch_size * get_world_size())
    sampler = trainer.train_loader.sampler
    sampler.set_epoch(trainer.epoch_offsets[stage.index] + epoch)
    sampler.skip(tally.samples_before)  # the samples already trained on are not even loaded
    if trainer.semi is not None:
        trainer.semi.begin_epoch(resumed_mid_epoch=progress is not None)
    epoch_number = trainer.epoch_offsets[stage.index] + epoch + 1
    trainer.model.train()
    trainer.optimizer.zero_grad(set_to_none=True)
    step_loss, snapshot = torch.zeros((), device=trainer.device), None
    # The bar is closed (its line cleared) on an error too, so the error line stands on its own.
    with _progress_bar(trainer, stage, epoch, tally.start_batch) as bar:
        for i, batch in enumerate(trainer.train_loader, start=tally.start_batch):
            if i >= trainer.batches_per_epoch or trainer._steps_done(stage):
                break
            if trainer.t.nonfinite == "skip" and i % accum == 0:
                snapshot = BufferSnapshot(trainer.raw_model)  # a dropped step must not keep the statistics it wrote
            last = (i + 1) % accum == 0
            step_loss += micro_step(trainer, batch, last)
            tally.seen += batch["image"].shape[0] * get_world_size()
            if not last:
                continue
            loss = step_loss / accum  # all the step trained on, not only its last micro-batch
            if trainer._optimizer_step(loss, epoch_number):
                tally.add(step_loss, accum)
            elif snapshot is not None:
                snapshot.restore()
            step_loss = torch.zeros((), device=trainer.device)
            speed = tally.speed()
            log_step(trainer, bar, loss, speed, (i + 1) // accum)
            if due(trainer.t.val_every_iters, trainer.global_step, trainer.last_validated):
                trainer.validate(stage, epoch, float("nan"), speed, partial=True)
                trainer.model.train()
            if due(trainer.t.checkpoint_every_iters, trainer.global_step, trainer.last_saved):
                trainer.save("last.pth", stage, epoch, progress=tally.progress(i + 1))
    sampler.skip(0)
    trainer.guard.check("the end of the epoch")
    if trainer.semi is not None:
        trainer.semi.end_epoch()
    return tally.mean_loss(), tally.seen / max(1e-9, time.perf_counter() - tally.start)


def micro_step(trainer, batch: dict, last: bool) -> torch.Tensor:
    """Forward and backward of one micro-batch, its loss scaled by 1 / accumulation_steps (and by AMP's scaler).

    With an ``unlabeled`` source the loss is semi-supervised training's (:meth:`SemiSupervised.loss
    <utils.training.semi.SemiSupervised.loss>`): one forward of the labelled and the unlabelled images together.

    Args:
        batch: ``image`` (N, 3, H, W) float, ``mask`` (N, H, W) class indices.
        last: the step's last micro-batch; under DDP only that one all-reduces the gradients.

    Returns:
        the micro-batch's loss: a detached 0-dim tensor on the device (no host sync).
    """
    images = batch["image"].to(trainer.device, non_blocking=True).contiguous(memory_format=trainer.mem_format)
    masks = batch["mask"].to(trainer.device, non_blocking=True)
    no_sync = trainer.ddp.no_sync() if trainer.ddp is not None and not last else nullcontext()
    with no_sync:
        with autocast(trainer.device, trainer.parts.amp_dtype):
            if trainer.semi is not None:
                parts = (trainer.model, trainer.raw_model, trainer.criterion)
                loss = trainer.semi.loss(*parts, images, masks, trainer.global_step)
            else:
                loss = trainer.criterion(trainer.model(images), masks)
        trainer.scaler.scale(loss / trainer.t.accumulation_steps).backward()
    return loss.detach()


def log_step(trainer, bar, loss: torch.Tensor, speed: float, steps_this_epoch: int) -> None:
    """The step's loss (the mean over its micro-batches), lr and speed to the progress bar, curves.png's points and
    TensorBoard.

    ``.item()`` waits for the GPU: only every ``training.log_every_iters`` steps (TensorBoard) and every 5 steps
    (the bar), the same steps on every rank, since the guard's check there is a collective.
    """
    to_tensorboard = trainer.global_step % max(1, trainer.t.log_every_iters) == 0
    if to_tensorboard or steps_this_epoch % 5 == 0:
        trainer.guard.check(f"step {trainer.global_step + 1}")
        current, lr = loss.item(), trainer.schedule.lr
        trainer.train_points.append((trainer.global_step, current, lr))
        bar.set_postfix(loss=f"{current:.4f}", lr=f"{lr:.2e}", img_s=f"{speed:.1f}")
        if to_tensorboard:
            values = {"train/loss": current, "train/lr": lr, "train/images_per_sec": speed}
            if trainer.semi is not None:
                values.update(trainer.semi.stats.scalars())
            trainer.run.scalars(values, trainer.global_step)
    bar.update(1)


def due(every: int, step: int, done_at: int) -> bool:
    """Whether an every-``every``-steps action (0: never) falls on ``step`` and has not been done there yet."""
    return bool(every) and step % every == 0 and done_at != step


class EpochTally:
    """Where the epoch started, its loss sums and its throughput; a mid-epoch last.pth's sums carry on."""

    def __init__(self, progress: EpochProgress, device: torch.device, per_batch: int):
        self.per_batch = per_batch  # samples per batch over all processes
        self.samples_before = progress.samples if progress else 0
        self.start_batch = self.samples_before // per_batch
        # Rank 0 carries the sums of the processes before the resume; the all-reduce at the end adds the rest.
        self.loss_sum = torch.tensor(progress.loss_sum if progress and is_main_process() else 0.0, device=device)
        self.count_before, self.count = (progress.loss_count if progress else 0), 0
        self.seen, self.start = 0, time.perf_counter()

    def add(self, step_loss: torch.Tensor, micro_batches: int) -> None:
        """A taken step's summed micro-batch losses (a dropped step's count for nothing)."""
        self.loss_sum += step_loss
        self.count += micro_batches

    def speed(self) -> float:
        """Images per second over all processes since this run of the epoch started."""
        return self.seen / (time.perf_counter() - self.start)

    def progress(self, batches_done: int) -> EpochProgress:
        """Where the epoch stands after batch index ``batches_done - 1``, for a mid-epoch last.pth; a collective."""
        total = all_reduce_sum(self.loss_sum.clone())
        samples = self.samples_before + (batches_done - self.start_batch) * self.per_batch
        return EpochProgress(samples, total.item(), self.count_before + self.count * get_world_size())

    def mean_loss(self) -> float:
        """The epoch's mean micro-batch loss over all processes; a collective."""
        all_reduce_sum(self.loss_sum)
        return self.loss_sum.item() / max(1, self.count_before + self.count * get_world_size())


def _progress_bar(trainer, stage, epoch: int, start_batch: int) -> tqdm:
    accum = trainer.t.accumulation_steps
    return tqdm(
        total=trainer.batches_per_epoch // accum,
        initial=start_batch // accum,
        desc=f"train {trainer._epoch_label(stage, epoch)}",
        disable=not is_main_process(),
        leave=False,
        dynamic_ncols=True,
    )
