"""The Trainer: stages of epochs of steps, validation on a dataset-level confusion matrix, exact resume.

An epoch's loop (micro-steps, optimizer steps, and logging, validating and saving between them) is
:mod:`utils.training.epoch`; what a checkpoint holds is :class:`utils.checkpoint.Checkpoint`.
"""

import math

import torch
from torch.nn.parallel import DistributedDataParallel

from utils.checkpoint import Checkpoint, EpochProgress, Metrics, Progress, TrainingState, rng_state, set_rng_state
from utils.config.errors import UserError
from utils.config.loading import config_to_dict
from utils.distributed import all_gather_objects, broadcast_buffers, get_rank, get_world_size, is_distributed
from utils.runtime import memory_format
from utils.training.epoch import train_one_epoch
from utils.training.nonfinite import NonFiniteGuard, assert_finite
from utils.training.optim import LRSchedule, build_optimizer
from utils.training.report import final_report, source_line, summary_line
from utils.training.semi import SemiSupervised
from utils.training.setup import TrainingParts, build_stage_loaders
from utils.training.stages import Stage, batches_per_epoch, plan_stages, resolve_epochs, schedule_warnings, stage_line
from utils.training.step import optimizer_step
from utils.training.validation import validate_sources


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
        self.semi = None  # semi-supervised training: the unlabelled stream, teacher and loss (utils.training.semi)
        if parts.unlabeled is not None:
            self.semi = SemiSupervised(cfg, parts.unlabeled, self.raw_model, self.labels.names, self.device)

    def _offsets(self) -> None:
        self.epoch_offsets = [sum(s.epochs for s in self.stages[:i]) for i in range(len(self.stages))]

    # ----------------------------------------------------------------- setup per stage
    def _setup_stage(self, stage: Stage) -> Stage:
        self.train_loader, self.val_loaders = build_stage_loaders(
            self.cfg, self.labels, self.parts.items, stage.size, stage.batch_size, self.device
        )
        train_set, accum = self.train_loader.dataset, self.t.accumulation_steps
        val_images = sum(len(loader.dataset) for loader in self.val_loaders.values())
        if self.semi is not None:
            self.semi.setup_stage(stage.size, stage.batch_size, self.mem_format)
        self.batches_per_epoch = batches_per_epoch(self.t, len(self.train_loader), len(train_set), stage.batch_size)
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
        crop, world = self.cfg.dataset.crop_size, get_world_size()
        self.log.info(stage_line(stage, len(self.stages), crop, world, len(train_set), val_images))
        if len(self.val_loaders) > 1:
            self.log.info(source_line(train_set, self.val_loaders))
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
        if self.semi is not None:
            self.semi.close()
        report = final_report(self.history, self.best, self.t.key_metric, self.run.path, self.guard.skipped_steps)
        if report:
            self.log.info(report)
        self.run.flush()
        return self.history

    def _steps_done(self, stage: Stage) -> bool:
        return self.stage_end_step is not None and self.global_step >= self.stage_end_step

    def train_one_epoch(self, stage: Stage, epoch: int, progress: EpochProgress = None) -> tuple:
        """(mean loss, images/s) of one pass over the training loader (:func:`utils.training.epoch.train_one_epoch`),
        from where ``progress`` (a mid-epoch last.pth) stopped."""
        return train_one_epoch(self, stage, epoch, progress)

    def _optimizer_step(self, loss: torch.Tensor, epoch_number: int) -> bool:
        """Steps on the accumulated gradients (``loss``: the step's, for the NaN guard); False when the guard dropped
        the step (:func:`utils.training.step.optimizer_step`)."""
        parts = (self.raw_model, self.optimizer, self.scaler, self.t.clip_grad_norm, self.guard)
        ok = optimizer_step(*parts, loss, self.global_step + 1, epoch_number)
        if ok:
            self.schedule.step()
            self.global_step += 1
            if self.semi is not None:
                self.semi.after_step(self.raw_model, self.global_step)
        return ok

    def validate(self, stage: Stage, epoch: int, train_loss: float, speed: float, partial: bool = False) -> dict:
        if not partial and self.history and self.last_validated == self.global_step:
            return self._close_epoch_record(stage, epoch, train_loss, speed)  # val_every_iters just validated this step
        # A broken model never scores, so it never becomes best.pth.
        assert_finite(self.guard, self.raw_model, self.global_step, "validating")
        # The unwrapped model: DDP's forward would broadcast buffers, a collective that ranks with no
        # validation images (uneven shards) never join. Its weights match on every rank; its buffers once rank 0's
        # are broadcast (each process's last forward updated BatchNorm's statistics with its own batch).
        broadcast_buffers(self.raw_model)
        metrics, grid = validate_sources(
            self.raw_model,
            self.val_loaders,
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
        assert_finite(self.guard, self.raw_model, self.global_step, f"writing {name}")
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
            unlabeled=None if self.semi is None else self.semi.state(mid_epoch=progress is not None),
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
        if self.semi is not None:
            self.semi.load_state(ckpt.unlabeled)  # prepare_run_folder made sure last.pth has it
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
        partial = r is not None and r["partial_epoch"]
        head = f"step {self.global_step} (epoch {label}, partial)" if partial else f"epoch {label}"
        unlabeled = self.semi.epoch_summary if self.semi is not None and not partial else ""
        self.log.info(summary_line(head, train_loss, r, self.schedule.lr, speed, unlabeled))
