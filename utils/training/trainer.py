"""The Trainer: stages of epochs of steps, validation on a dataset-level confusion matrix, exact resume."""

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from utils.checkpoint import load_checkpoint, rng_state, set_rng_state
from utils.config.errors import UserError
from utils.data import build_dataset, build_loader
from utils.distributed import all_gather_objects, all_reduce_sum, get_rank, get_world_size, is_distributed, is_main_process
from utils.metrics import format_table
from utils.runtime import autocast, memory_format
from utils.training.optim import LRSchedule, build_optimizer
from utils.training.setup import TrainingParts
from utils.training.validation import validate


@dataclass(frozen=True)
class Stage:
    index: int
    epochs: int
    size: tuple
    batch_size: int
    lr: float


def plan_stages(cfg) -> list:
    """training.stages, or one stage made of training.epochs / dataset.size / batch_size / lr."""
    t = cfg.training
    if not t.stages:
        return [Stage(0, t.epochs, tuple(cfg.dataset.size), t.batch_size, t.lr)]
    pick = lambda value, default: default if value is None else value  # noqa: E731
    return [Stage(i, s.epochs, tuple(pick(s.size, cfg.dataset.size)), pick(s.batch_size, t.batch_size), pick(s.lr, t.lr)) for i, s in enumerate(t.stages)]


class Trainer:
    """Runs every stage: ``fit`` -> ``train_one_epoch`` / ``validate`` -> ``save``; ``resume`` restores last.pth."""

    def __init__(self, cfg, run, parts: TrainingParts):
        self.cfg, self.run, self.log = cfg, run, run.log
        self.t = cfg.training
        self.parts, self.device, self.labels = parts, parts.device, parts.labels
        self.raw_model, self.criterion = parts.model, parts.criterion
        self.model, self.ddp = parts.model, None
        if is_distributed():
            self.ddp = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            self.model = self.ddp
        if self.t.compile:
            self.model = torch.compile(self.model)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=parts.amp_dtype == torch.float16)
        self.mem_format = memory_format(self.device, self.t.channels_last)
        self.higher_is_better = self.t.key_metric != "loss"
        self.history, self.best, self.global_step = [], None, 0
        self.stages = plan_stages(cfg)
        self.epoch_offsets = [sum(s.epochs for s in self.stages[:i]) for i in range(len(self.stages))]

    # ----------------------------------------------------------------- setup per stage
    def _setup_stage(self, stage: Stage) -> None:
        rank, world = get_rank(), get_world_size()
        pin = self.device.type == "cuda"
        train_set = build_dataset(self.cfg, self.labels, "train", "train", stage.size)
        val_set = build_dataset(self.cfg, self.labels, "val", "val", stage.size)
        self.train_loader = build_loader(train_set, stage.batch_size, self.t.num_workers, True, self.t.seed, rank, world, pin)
        self.val_loader = build_loader(val_set, stage.batch_size, self.t.num_workers, False, self.t.seed, rank, world, pin)
        accum = self.t.accumulation_steps
        self.batches_per_epoch = (len(self.train_loader) // accum) * accum
        if self.t.iters_per_epoch:
            self.batches_per_epoch = min(self.batches_per_epoch, self.t.iters_per_epoch * accum)
        if self.batches_per_epoch == 0:
            raise UserError(
                f"The training set has {len(train_set)} images: {len(self.train_loader)} batches of {stage.batch_size} per process, "
                f"fewer than training.accumulation_steps={accum}. Lower the batch size or accumulation_steps."
            )
        steps = self.batches_per_epoch // accum * stage.epochs
        self.optimizer = build_optimizer(self.raw_model, self.t, stage.lr)
        self.schedule = LRSchedule(self.optimizer, self.t, stage.lr, steps, self.higher_is_better, steps_before=self.global_step)
        self.log.info(
            f"stage {stage.index + 1}/{len(self.stages)}: {stage.epochs} epochs at {stage.size[0]}x{stage.size[1]}, batch {stage.batch_size} x {world} processes, lr {stage.lr:g}; {len(train_set)} train / {len(val_set)} val images"
        )

    # ----------------------------------------------------------------- the loop
    def fit(self, resume: bool = False) -> list:
        start_stage, start_epoch, ckpt = 0, 0, None
        if resume:
            ckpt = self.resume()
            start_stage, start_epoch = ckpt["stage"], ckpt["epoch"]
            if start_epoch >= self.stages[start_stage].epochs:
                start_stage, start_epoch = start_stage + 1, 0
        for stage in self.stages[start_stage:]:
            self._setup_stage(stage)
            if ckpt is not None and stage.index == ckpt["stage"] and start_epoch > 0:
                try:
                    self.optimizer.load_state_dict(ckpt["optimizer"])
                except (ValueError, KeyError) as exc:
                    raise UserError(f"last.pth's optimizer state does not fit training.optimizer '{self.t.optimizer}' ({exc}). Resume with the config the run started with.") from None
                self.schedule.load_state_dict(ckpt["schedule"])
            if ckpt is not None:
                states = ckpt["rng"]
                set_rng_state(states[get_rank()] if len(states) == get_world_size() else states[0])
                ckpt = None
            for epoch in range(start_epoch, stage.epochs):
                train_loss, speed = self.train_one_epoch(stage, epoch)
                record = self.validate(stage, epoch + 1, train_loss, speed)
                self.save("last.pth", stage, epoch + 1)
                self._summary(stage, epoch, record)
            start_epoch = 0
        if self.history:
            last = self.history[-1]
            self.log.info("\nper-class metrics on val (last validation):\n" + format_table(last))
            best = f"{self.best:.4f} (best.pth)" if self.best is not None else "never finite, so no best.pth"
            self.log.info(f"best {self.t.key_metric}: {best}; last: last.pth in {self.run.path}")
        self.run.flush()
        return self.history

    def train_one_epoch(self, stage: Stage, epoch: int) -> tuple:
        model, accum = self.model, self.t.accumulation_steps
        model.train()
        self.train_loader.sampler.set_epoch(self.epoch_offsets[stage.index] + epoch)
        loss_sum, loss_count, images_seen = torch.zeros((), device=self.device), 0, 0
        start = time.perf_counter()
        bar = tqdm(total=self.batches_per_epoch // accum, desc=f"train {self._epoch_label(stage, epoch)}", disable=not is_main_process(), leave=False, dynamic_ncols=True)
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(self.train_loader):
            if i >= self.batches_per_epoch:
                break
            images = batch["image"].to(self.device, non_blocking=True).contiguous(memory_format=self.mem_format)
            masks = batch["mask"].to(self.device, non_blocking=True)
            sync = (i + 1) % accum == 0
            no_sync = self.ddp.no_sync() if self.ddp is not None and not sync else nullcontext()  # skip all-reduce until the last micro-batch
            with no_sync:
                with autocast(self.device, self.parts.amp_dtype):
                    loss = self.criterion(model(images), masks)
                self.scaler.scale(loss / accum).backward()
            loss_sum += loss.detach()
            loss_count += 1
            images_seen += images.shape[0] * get_world_size()
            if not sync:
                continue
            if self.t.clip_grad_norm:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.t.clip_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.schedule.step()
            self.global_step += 1
            speed = images_seen / (time.perf_counter() - start)
            to_tensorboard = self.global_step % max(1, self.t.log_every_iters) == 0
            if to_tensorboard or bar.n % 5 == 0:  # .item() waits for the GPU: only every few steps
                current = loss.item()
                bar.set_postfix(loss=f"{current:.4f}", lr=f"{self.schedule.lr:.2e}", img_s=f"{speed:.1f}")
                if to_tensorboard:
                    self.run.scalars({"train/loss": current, "train/lr": self.schedule.lr, "train/images_per_sec": speed}, self.global_step)
            bar.update(1)
            if self.t.val_every_iters and self.global_step % self.t.val_every_iters == 0:
                self.validate(stage, epoch, float("nan"), speed, partial=True)
                model.train()
        bar.close()
        all_reduce_sum(loss_sum)
        mean_loss = loss_sum.item() / max(1, loss_count * get_world_size())
        return mean_loss, images_seen / max(1e-9, time.perf_counter() - start)

    def validate(self, stage: Stage, epoch: int, train_loss: float, speed: float, partial: bool = False) -> dict:
        # The unwrapped model: DDP's forward would broadcast buffers, a collective that ranks with no
        # validation images (uneven shards) never join. Its weights and buffers match on every rank.
        metrics, grid = validate(self.raw_model, self.val_loader, self.criterion, self.labels, self.device, self.parts.amp_dtype, self.mem_format, self.t.tb_images)
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
        step = self.global_step
        self.run.scalars({"val/loss": metrics["val_loss"], "val/miou": metrics["miou"], "val/mean_dice": metrics["mean_dice"], "val/pixel_acc": metrics["pixel_acc"]}, step)
        self.run.scalars({f"val_iou/{k}": v["iou"] for k, v in metrics["per_class"].items()}, step)
        self.run.scalars({f"val_dice/{k}": v["dice"] for k, v in metrics["per_class"].items()}, step)
        if not partial:
            self.run.scalars({"train/epoch_loss": train_loss, "train/epoch_images_per_sec": speed}, step)
        if grid is not None:
            self.run.image("val/input_gt_prediction", grid, step)
        self.history.append(record)
        key = metrics["val_loss"] if self.t.key_metric == "loss" else metrics[self.t.key_metric]
        self.schedule.validation(key)
        if not math.isnan(key) and (self.best is None or (key > self.best if self.higher_is_better else key < self.best)):
            self.best = key
            self.save("best.pth", stage, epoch)
        self.run.write_json(self.history, "metrics.json")
        self.run.flush()
        return record

    # ----------------------------------------------------------------- checkpoints
    def save(self, name: str, stage: Stage, epoch: int) -> None:
        """``epoch`` counts the epochs of ``stage`` already completed."""
        state = {
            "model": self.raw_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "stage": stage.index,
            "epoch": epoch,
            "global_step": self.global_step,
            "best": self.best,
            "key_metric": self.t.key_metric,
            "history": self.history,
            "rng": all_gather_objects(rng_state()),  # one entry per process: each has its own dropout stream
            **self.parts.checkpoint_meta,
        }
        self.run.save_checkpoint(state, name)

    def resume(self) -> dict:
        path = self.run.path / "last.pth"
        if not path.is_file():
            raise UserError(f"--resume found no '{path}'. Start without --resume, or point paths.output_dir at the run to continue.")
        ckpt = load_checkpoint(path, map_location=self.device)
        try:
            self.raw_model.load_state_dict(ckpt["model"])
        except RuntimeError as exc:
            raise UserError(f"'{path}' does not fit this config's model ({str(exc).splitlines()[0]}). Resume with the config the run started with ({self.run.path / 'config.yaml'}).") from None
        if ckpt["scaler"] and self.scaler.is_enabled():  # a run moved between bf16 and fp16 starts a fresh scaler
            self.scaler.load_state_dict(ckpt["scaler"])
        self.history, self.best, self.global_step = list(ckpt["history"]), ckpt["best"], ckpt["global_step"]
        done = self.epoch_offsets[ckpt["stage"]] + ckpt["epoch"] if ckpt["stage"] < len(self.stages) else None
        if done is None:
            raise UserError(f"'{path}' was written by a run with more stages than training.stages has now.")
        self.log.info(f"resuming from {path}: {done} epochs and {self.global_step} steps done")
        return ckpt

    # ----------------------------------------------------------------- reporting
    def _epoch_label(self, stage: Stage, epoch: int) -> str:
        total = self.epoch_offsets[-1] + self.stages[-1].epochs
        return f"{self.epoch_offsets[stage.index] + epoch + 1}/{total}"

    def _summary(self, stage: Stage, epoch: int, r: dict) -> None:
        self.log.info(
            f"epoch {self._epoch_label(stage, epoch)} | loss {r['loss']:.4f} | val loss {r['val_loss']:.4f} | "
            f"mIoU {r['miou']:.4f} | mean dice {r['mean_dice']:.4f} | pixel acc {r['pixel_acc']:.4f} | "
            f"lr {r['lr']:.2e} | {r['images_per_sec']:.1f} img/s"
        )
