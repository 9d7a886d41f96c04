"""Optimizers and the learning-rate policy: warmup, poly / cosine / plateau, and the encoder freeze."""

import math

import torch

from utils.config.errors import UserError


def build_optimizer(model: torch.nn.Module, cfg, lr: float) -> torch.optim.Optimizer:
    """Two parameter groups, encoder first, so that the encoder can be frozen by its learning rate alone."""
    encoder = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    rest = [p for n, p in model.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
    groups = [{"params": encoder, "name": "encoder"}, {"params": rest, "name": "decoder"}]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise UserError(f"Unknown training.optimizer '{cfg.optimizer}'; allowed: adam | adamw | sgd.")


class LRSchedule:
    """Sets every group's lr once per optimizer step.

    lr = warmup * (min_lr + (base_lr - min_lr) * (poly | cosine decay)), or base_lr * the plateau factor, within a stage, and 0 for the encoder group
    during the run's first ``freeze_encoder_iters`` steps (the original's freeze: the random decoder cannot wreck pretrained
    encoder weights, and DDP sees no change in which parameters get gradients).
    """

    def __init__(self, optimizer, cfg, base_lr: float, total_steps: int, higher_is_better: bool, steps_before: int = 0):
        self.optimizer, self.cfg, self.base_lr = optimizer, cfg, base_lr
        self.steps_before = (
            steps_before  # optimizer steps of earlier stages: the encoder freeze counts over the whole run
        )
        self.total_steps = max(1, total_steps)
        self.higher_is_better = higher_is_better
        self.step_count = 0
        self.plateau_factor = 1.0
        self.best = None
        self.bad_validations = 0
        self.apply()

    def current_lr(self) -> float:
        """base_lr, shaped by warmup and the policy; poly and cosine decay towards training.min_lr."""
        cfg, t = self.cfg, self.step_count
        warm = (
            min(1.0, (t + 1) / cfg.warmup_iters)
            if cfg.warmup_iters > 0 and cfg.scheduler in ("poly", "cosine")
            else 1.0
        )
        floor = min(cfg.min_lr, self.base_lr)
        if cfg.scheduler == "poly":
            decay = (1.0 - min(t, self.total_steps) / self.total_steps) ** cfg.poly_power
            return warm * (floor + (self.base_lr - floor) * decay)
        if cfg.scheduler == "cosine":
            span = max(1, self.total_steps - cfg.warmup_iters)
            progress = min(1.0, max(0.0, (t - cfg.warmup_iters) / span))
            return warm * (floor + (self.base_lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))
        if cfg.scheduler == "plateau":
            return self.base_lr * self.plateau_factor
        return self.base_lr

    def encoder_frozen(self) -> bool:
        return self.steps_before + self.step_count < self.cfg.freeze_encoder_iters

    def apply(self) -> None:
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = 0.0 if group.get("name") == "encoder" and self.encoder_frozen() else lr

    def step(self) -> None:
        """After an optimizer step."""
        self.step_count += 1
        self.apply()

    def validation(self, value: float) -> None:
        """Feeds the key metric to the plateau policy."""
        if self.cfg.scheduler != "plateau" or value is None or math.isnan(value):
            return
        better = self.best is None or (value > self.best if self.higher_is_better else value < self.best)
        if better:
            self.best, self.bad_validations = value, 0
        else:
            self.bad_validations += 1
            if self.bad_validations > self.cfg.plateau_patience:
                self.plateau_factor *= self.cfg.plateau_factor
                self.bad_validations = 0
        self.apply()

    @property
    def lr(self) -> float:
        return self.current_lr()

    def state_dict(self) -> dict:
        return {
            "step_count": self.step_count,
            "steps_before": self.steps_before,
            "plateau_factor": self.plateau_factor,
            "best": self.best,
            "bad_validations": self.bad_validations,
        }

    def load_state_dict(self, state: dict) -> None:
        self.step_count, self.steps_before, self.plateau_factor = (
            state["step_count"],
            state["steps_before"],
            state["plateau_factor"],
        )
        self.best, self.bad_validations = state["best"], state["bad_validations"]
        self.apply()
