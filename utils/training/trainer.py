"""The Trainer: stages of epochs of steps, validation on a dataset-level confusion matrix, exact resume."""

import math
import time
from contextlib import nullcontext

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from utils.checkpoint import Checkpoint, EpochProgress, Metrics, Progress, TrainingState, rng_state, set_rng_state
from utils.config import config_to_dict
from utils.config.errors import NonFiniteError, UserError
from utils.distributed import (
    all_gather_objects,
    all_reduce_sum,
    get_rank,
    get_world_size,
    is_distributed,
    is_main_process,
)
from utils.runtime import autocast, memory_format
from utils.training.nonfinite import BufferSnapshot, NonFiniteGuard, weights_are_finite
from utils.training.optim import LRSchedule, build_optimizer
from utils.training.report import final_report, summary_line
from utils.training.setup import TrainingParts, build_stage_loaders
from utils.training.stages import Stage, plan_stages, resolve_epochs, schedule_warnings
from utils.training.step import optimizer_step
from utils.training.validation import validate


class Trainer:
    """Runs every stage: ``fit`` -> ``train_one_epoch`` / ``validate`` -> ``save``; ``resume`` restores last.pth."""

    def __init__(self, cfg, run, parts: TrainingParts):
        self.cfg, self.run, self.log = cfg, run, run.log
        self.t = cfg.training
        self.parts, self.device, self.labels = parts, parts.device, parts.labels
        self.raw_model, self.criterion = parts.model, parts.criterion
        self.model, self.ddp = parts.model, None
        if is_distributed():
            self.ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
            self.model = self.ddp
        if self.t.compile:
            self.model = torch.compile(self.model)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=parts.amp_dtype == torch.float16)
        self.mem_format = memory_format(self.device, self.t.channels_last)
        self.higher_is_better = self.t.key_metric != "loss"
        self.history, self.best, self.global_step = [], None, 0
        self.guard = NonFiniteGuard(self.t.nonfinite, self.t.max_nonfinite_steps, self.device)
        self.train_points = []  # (step, loss, lr) read where the loop syncs anyway: curves.png
        self.config_saved = parts.config_saved  # a resumed run writes config.yaml with its first last.pth
        self.config_dict = config_to_dict(cfg)  # what checkpoints carry, so eval needs no training config
        self.last_validated, self.last_saved = -1, -1
        self.stages = plan_stages(cfg)
        self._offsets()

    def _offsets(self) -> None:
        self.epoch_offsets = [sum(s.epochs for s in self.stages[:i]) for i in range(len(self.stages))]

    # ----------------------------------------------------------------- setup per stage
    def _setup_stage(self, stage: Stage) -> Stage:
        self.train_loader, self.val_loader = build_stage_loaders(
            self.cfg, self.labels, self.parts.items, stage.size, stage.batch_size, self.device
        )
        train_set, val_set, world = self.train_loader.dataset, self.val_loader.dataset, get_world_size()
        accum = self.t.accumulation_steps
        self.batches_per_epoch = (len(self.train_loader) // accum) * accum
        if self.t.iters_per_epoch:
            self.batches_per_epoch = min(self.batches_per_epoch, self.t.iters_per_epoch * accum)
        if self.batches_per_epoch == 0:
            raise UserError(
                f"The training set has {len(train_set)} images: {len(self.train_loader)} batches of "
                f"{stage.batch_size} per process, "
                f"fewer than training.accumulation_steps={accum}. Lower the batch size or accumulation_steps."
            )
        stage = resolve_epochs(stage, self.batches_per_epoch // accum)
        self.stages[stage.index] = stage
        self._offsets()
        steps = stage.max_steps or self.batches_per_epoch // accum * stage.epochs
        self.stage_end_step = stage.max_steps or None  # iteration mode has a single stage: its steps count from 0
        self.optimizer = build_optimizer(self.raw_model, self.t, stage.lr)
        self.schedule = LRSchedule(
            self.optimizer, self.t, stage.lr, steps, self.higher_is_better, steps_before=self.global_step
        )
        last = stage.index == len(self.stages) - 1
        for warning in schedule_warnings(self.cfg, steps, self.global_step + steps if last else math.inf):
            self.log.warning(f"warning: {warning}")
        unit = f"{stage.max_steps} steps ({stage.epochs} epochs)" if stage.max_steps else f"{stage.epochs} epochs"
        crop = self.cfg.dataset.crop_size
        scale = f"{stage.size[0]}x{stage.size[1]}" + (f" in {crop[0]}x{crop[1]} crops" if crop else "")
        self.log.info(
            f"stage {stage.index + 1}/{len(self.stages)}: {unit} at {scale}, batch {stage.batch_size} x {world} "
            f"processes, lr {stage.lr:g}; {len(train_set)} train / {len(val_set)} val images"
        )
        return stage

    # ----------------------------------------------------------------- the loop
    def fit(self, ckpt: Checkpoint = None) -> list:
        """Trains every stage; ``ckpt`` is a verified last.pth to continue from (see :mod:`utils.training.resume`)."""
        start_stage, start_epoch, progress = 0, 0, None
        if ckpt is not None:
            self.resume(ckpt)
            start_stage, start_epoch = ckpt.progress.stage, ckpt.progress.epoch
            progress = ckpt.progress.epoch_progress  # set when last.pth was written inside an epoch
        for stage in self.stages[start_stage:]:
            stage = self._setup_stage(stage)
            if ckpt is not None:
                if start_epoch > 0 or progress:
                    self._restore_optimizer(ckpt)
                set_rng_state(ckpt.training.rng_for(get_rank(), get_world_size()))
                ckpt = None
            epoch = start_epoch
            # Iteration mode runs until max_iters optimizer steps, even when skipped steps need another epoch.
            while epoch < stage.epochs or (stage.max_steps and not self._steps_done(stage)):
                train_loss, speed = self.train_one_epoch(stage, epoch, progress)
                progress = None
                record = None
                if not stage.max_steps or self._steps_done(stage):
                    record = self.validate(stage, epoch + 1, train_loss, speed)
                self.save("last.pth", stage, epoch + 1)
                self._summary(stage, epoch, train_loss, speed, record)
                if self._steps_done(stage):
                    break
                epoch += 1
            start_epoch = 0
        report = final_report(self.history, self.best, self.t.key_metric, self.run.path, self.guard.skipped_steps)
        if report:
            self.log.info(report)
        self.run.flush()
        return self.history

    def _steps_done(self, stage: Stage) -> bool:
        return self.stage_end_step is not None and self.global_step >= self.stage_end_step

    def train_one_epoch(self, stage: Stage, epoch: int, progress: EpochProgress = None) -> tuple:
        """One pass over the training loader; ``progress`` (from a mid-epoch last.pth) starts it where that stopped.

        ``progress`` counts samples over all processes, so the same data order continues even on another
        number of processes; the epoch's loss sums continue too (rank 0 carries what came before).
        """
        model, accum, world = self.model, self.t.accumulation_steps, get_world_size()
        model.train()
        per_batch = stage.batch_size * world
        done = progress.samples if progress else 0
        start_batch = done // per_batch
        sampler = self.train_loader.sampler
        sampler.set_epoch(self.epoch_offsets[stage.index] + epoch)
        sampler.skip(done)
        loss_sum = torch.tensor(progress.loss_sum if progress and is_main_process() else 0.0, device=self.device)
        count_before, loss_count = (progress.loss_count if progress else 0), 0
        start = time.perf_counter()
        bar = tqdm(
            total=self.batches_per_epoch // accum,
            initial=start_batch // accum,
            desc=f"train {self._epoch_label(stage, epoch)}",
            disable=not is_main_process(),
            leave=False,
            dynamic_ncols=True,
        )
        self.optimizer.zero_grad(set_to_none=True)
        step_loss, snapshot, seen_now = torch.zeros((), device=self.device), None, 0
        for i, batch in enumerate(self.train_loader, start=start_batch):
            if i >= self.batches_per_epoch or self._steps_done(stage):
                break
            if self.t.nonfinite == "skip" and i % accum == 0:
                snapshot = BufferSnapshot(
                    self.raw_model
                )  # a dropped step must not keep the batch-norm statistics it wrote
            images = batch["image"].to(self.device, non_blocking=True).contiguous(memory_format=self.mem_format)
            masks = batch["mask"].to(self.device, non_blocking=True)
            sync = (i + 1) % accum == 0
            no_sync = (
                self.ddp.no_sync() if self.ddp is not None and not sync else nullcontext()
            )  # skip all-reduce until the last micro-batch
            with no_sync:
                with autocast(self.device, self.parts.amp_dtype):
                    loss = self.criterion(model(images), masks)
                self.scaler.scale(loss / accum).backward()
            step_loss += loss.detach()
            seen_now += images.shape[0] * world
            if not sync:
                continue
            epoch_number = self.epoch_offsets[stage.index] + epoch + 1
            if self._optimizer_step(step_loss / accum, epoch_number):
                loss_sum += step_loss
                loss_count += accum
            elif snapshot is not None:
                snapshot.restore()
            step_loss = torch.zeros((), device=self.device)
            speed = seen_now / (time.perf_counter() - start)
            to_tensorboard = self.global_step % max(1, self.t.log_every_iters) == 0
            if (
                to_tensorboard or ((i + 1) // accum) % 5 == 0
            ):  # .item() waits for the GPU: only every few steps, the same on every rank
                self.guard.check(f"step {self.global_step + 1}")
                current = loss.item()
                self.train_points.append((self.global_step, current, self.schedule.lr))
                bar.set_postfix(loss=f"{current:.4f}", lr=f"{self.schedule.lr:.2e}", img_s=f"{speed:.1f}")
                if to_tensorboard:
                    self.run.scalars(
                        {"train/loss": current, "train/lr": self.schedule.lr, "train/images_per_sec": speed},
                        self.global_step,
                    )
            bar.update(1)
            if (
                self.t.val_every_iters
                and self.global_step % self.t.val_every_iters == 0
                and self.last_validated != self.global_step
            ):
                self.validate(stage, epoch, float("nan"), speed, partial=True)
                model.train()
            if (
                self.t.checkpoint_every_iters
                and self.global_step % self.t.checkpoint_every_iters == 0
                and self.last_saved != self.global_step
            ):
                total = all_reduce_sum(loss_sum.clone())
                progress_now = EpochProgress(
                    done + (i + 1 - start_batch) * per_batch, total.item(), count_before + loss_count * world
                )
                self.save("last.pth", stage, epoch, progress=progress_now)
        bar.close()
        sampler.skip(0)
        self.guard.check("the end of the epoch")
        all_reduce_sum(loss_sum)
        mean_loss = loss_sum.item() / max(1, count_before + loss_count * world)
        return mean_loss, seen_now / max(1e-9, time.perf_counter() - start)

    def _optimizer_step(self, loss: torch.Tensor, epoch_number: int) -> bool:
        ok = optimizer_step(
            self.raw_model,
            self.optimizer,
            self.scaler,
            self.t.clip_grad_norm,
            self.guard,
            loss,
            self.global_step + 1,
            epoch_number,
        )
        if ok:
            self.schedule.step()
            self.global_step += 1
        return ok

    def _assert_finite(self, about_to: str) -> None:
        self.guard.check(about_to)
        if not weights_are_finite(self.raw_model):
            raise NonFiniteError(
                "The model's weights (or batch-norm statistics) are NaN or infinite at optimizer step "
                f"{self.global_step}; stopped before {about_to}, "
                "so no checkpoint holds them and last.pth / best.pth are as they were. Lower training.lr or set "
                "training.clip_grad_norm."
            )

    def validate(self, stage: Stage, epoch: int, train_loss: float, speed: float, partial: bool = False) -> dict:
        if not partial and self.history and self.last_validated == self.global_step:
            return self._close_epoch_record(stage, epoch, train_loss, speed)  # val_every_iters just validated this step
        self._assert_finite("validating")  # a broken model never scores, so it never becomes best.pth
        # The unwrapped model: DDP's forward would broadcast buffers, a collective that ranks with no
        # validation images (uneven shards) never join. Its weights and buffers match on every rank.
        metrics, grid = validate(
            self.raw_model,
            self.val_loader,
            self.criterion,
            self.labels,
            self.device,
            self.parts.amp_dtype,
            self.mem_format,
            self.t.tb_images,
        )
        record = {
            "epoch": self.epoch_offsets[stage.index] + epoch,
            "stage": stage.index + 1,
            "iteration": self.global_step,
            "partial_epoch": partial,
            "loss": train_loss,
            **metrics,
            "lr": self.schedule.lr,
            "images_per_sec": speed,
        }
        self.run.log_validation(record, grid)
        self.history.append(record)
        self.last_validated = self.global_step
        key = metrics["val_loss"] if self.t.key_metric == "loss" else metrics[self.t.key_metric]
        self.schedule.validation(key)
        if not math.isnan(key) and (
            self.best is None or (key > self.best if self.higher_is_better else key < self.best)
        ):
            self.best = key
            self.save("best.pth", stage, epoch)
        self.run.write_json(self.history, "metrics.json")
        self.run.curves(self.history, self.train_points, self.guard.skipped_steps)
        self.run.flush()
        if partial:
            self._summary(stage, epoch, train_loss, speed, record)
        return record

    def _close_epoch_record(self, stage: Stage, epoch: int, train_loss: float, speed: float) -> dict:
        """The record of a validation at the epoch's last step becomes the epoch's: one validation, not two."""
        record = self.history[-1]
        record.update(
            epoch=self.epoch_offsets[stage.index] + epoch, partial_epoch=False, loss=train_loss, images_per_sec=speed
        )
        self.run.scalars({"train/epoch_loss": train_loss, "train/epoch_images_per_sec": speed}, self.global_step)
        self.run.write_json(self.history, "metrics.json")
        return record

    # ----------------------------------------------------------------- checkpoints
    def save(self, name: str, stage: Stage, epoch: int, progress: EpochProgress = None) -> None:
        """``epoch`` counts the epochs of ``stage`` already completed; ``progress`` how far the next one got
        (samples over all processes, and its loss sums), when last.pth is written inside an epoch."""
        self._assert_finite(f"writing {name}")
        ckpt = Checkpoint(
            model=self.raw_model.state_dict(),
            config=self.config_dict,
            labels=self.labels,
            progress=Progress(stage.index, epoch, progress, self.global_step),
            metrics=Metrics(self.best, self.t.key_metric, self.history, self.train_points, self.guard.state_dict()),
            training=TrainingState(
                self.optimizer.state_dict(),
                self.schedule.state_dict(),
                self.scaler.state_dict(),
                all_gather_objects(rng_state()),  # one entry per process: each has its own dropout stream
            ),
        )
        self.run.save_checkpoint(ckpt.to_dict(), name)
        if name == "last.pth":
            self.last_saved = self.global_step
            if not self.config_saved:  # config.yaml always describes a config last.pth was written with
                self.run.save_config(self.cfg)
                self.config_saved = True

    def resume(self, ckpt: Checkpoint) -> None:
        self.raw_model.load_state_dict(ckpt.model)  # verified against the config before the run folder was touched
        state, done, metrics = ckpt.training, ckpt.progress, ckpt.metrics
        if state.scaler and self.scaler.is_enabled():  # a run moved between bf16 and fp16 starts a fresh scaler
            self.scaler.load_state_dict(state.scaler)
        self.history, self.best, self.global_step = list(metrics.history), metrics.best, done.global_step
        self.train_points = list(metrics.train_points)
        self.guard.load_state_dict(metrics.nonfinite)
        self.last_saved = self.global_step
        progress = done.epoch_progress
        where = f"{done.epoch} epochs" + (f" and {progress.samples} samples of the next" if progress else "")
        self.log.info(
            f"resuming from {self.run.path / 'last.pth'}: stage {done.stage + 1}, {where}, {self.global_step} "
            "steps done"
        )

    def _restore_optimizer(self, ckpt: Checkpoint) -> None:
        try:
            self.optimizer.load_state_dict(ckpt.training.optimizer)
        except (ValueError, KeyError) as exc:
            raise UserError(
                f"last.pth's optimizer state does not fit training.optimizer '{self.t.optimizer}' ({exc}). Resume "
                "with the run's own config.yaml."
            ) from None
        self.schedule.load_state_dict(ckpt.training.schedule)

    # ----------------------------------------------------------------- reporting
    def _epoch_label(self, stage: Stage, epoch: int) -> str:
        total = self.epoch_offsets[-1] + self.stages[-1].epochs
        return f"{self.epoch_offsets[stage.index] + epoch + 1}/{total}"

    def _summary(self, stage: Stage, epoch: int, train_loss: float, speed: float, r: dict = None) -> None:
        label = self._epoch_label(stage, epoch)
        head = (
            f"step {self.global_step} (epoch {label}, partial)"
            if r is not None and r["partial_epoch"]
            else f"epoch {label}"
        )
        self.log.info(summary_line(head, train_loss, r, self.schedule.lr, speed))
