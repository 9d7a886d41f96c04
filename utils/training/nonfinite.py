"""The non-finite guard: a NaN or infinite loss (or gradient norm) never reaches a checkpoint.

``training.nonfinite: stop`` keeps the first bad step in a tensor on the device (with a step counter that
also lives there, so recording costs no host-device copy) and reads it only where the Trainer already waits
for the GPU: the progress-bar ``.item()``, the end of an epoch, before validating and before every save. A
healthy run pays no extra sync. ``skip`` must know before the optimizer step, so it reads one flag per step
(as PyTorch's own fp16 GradScaler does), drops that step, restores the batch-norm statistics the bad forward
pass wrote, and stops after ``training.max_nonfinite_steps`` skipped steps. Under DDP every process reaches
the same verdict at the same point.
"""

import bisect

import torch

from utils.config.errors import NonFiniteError
from utils.distributed import all_reduce_min, all_reduce_sum, get_world_size

ADVICE = "Lower training.lr, set training.clip_grad_norm, or use training.amp: bf16 rather than fp16"
NONE = 2**62  # "no bad step yet"; the minimum over processes is the first bad step anywhere


class NonFiniteGuard:
    def __init__(self, mode: str, max_skipped: int, device: torch.device):
        self.mode, self.max_skipped = mode, max_skipped
        self.first_bad = torch.full((), NONE, dtype=torch.long, device=device)
        self.counter = torch.zeros((), dtype=torch.long, device=device)  # observed steps, counted on the device
        self.counter_base = None  # the host step number of the first observed step
        self.epoch_starts = []  # (first step, epoch) on the host: the epoch of a bad step, without a device copy
        self.skipped_steps: list = []  # optimizer steps dropped in skip mode, for curves.png and the checkpoint

    def observe(self, loss: torch.Tensor, grad_norm: torch.Tensor, step: int, epoch: int) -> bool:
        """Records a step's loss and gradient norm; returns whether the optimizer may step.

        ``step`` is the 1-based optimizer step about to be taken, ``epoch`` the 1-based epoch.
        """
        finite = torch.isfinite(loss.detach().float()) & torch.isfinite(grad_norm.detach().float().to(loss.device))
        if self.mode == "skip":
            bad = (~finite).float()
            if get_world_size() > 1:  # every process drops the same steps
                all_reduce_sum(bad)
            if bad.item() == 0:
                return True
            self.skipped_steps.append(step)
            if len(self.skipped_steps) > self.max_skipped:
                raise NonFiniteError(
                    f"training.nonfinite=skip: {len(self.skipped_steps)} optimizer steps had a non-finite loss or "
                    "gradient norm "
                    f"(steps {_few(self.skipped_steps)}), more than training.max_nonfinite_steps={self.max_skipped}; "
                    f"stopped at step {step} (epoch {epoch}). "
                    f"Checkpoints already written are intact. {ADVICE}."
                )
            return False
        if self.counter_base is None:
            self.counter_base = step
        if not self.epoch_starts or self.epoch_starts[-1][1] != epoch:
            self.epoch_starts.append((step, epoch))
        self.first_bad.copy_(torch.where(~finite & (self.first_bad == NONE), self.counter, self.first_bad))
        self.counter += 1
        return True

    def check(self, about_to: str) -> None:
        """Raises NonFiniteError if a bad step was seen on any process (stop mode); one device-to-host read.

        Every process must call it at the same points (it is a collective under DDP).
        """
        if self.mode != "stop" or self.counter_base is None:
            return
        first = all_reduce_min(self.first_bad.clone()).item()
        if first != NONE:
            step = self.counter_base + first
            epoch = self.epoch_starts[bisect.bisect_right([s for s, _ in self.epoch_starts], step) - 1][1]
            raise NonFiniteError(
                f"training.nonfinite=stop: the loss or gradient norm became NaN or infinite at optimizer step {step} "
                f"(epoch {epoch}); "
                f"stopped before {about_to}, so no checkpoint holds non-finite weights and last.pth / best.pth are as "
                "they were. "
                f"{ADVICE}; to ride over rare bad batches set training.nonfinite: skip."
            )

    def state_dict(self) -> dict:
        return {"skipped_steps": list(self.skipped_steps)}

    def load_state_dict(self, state: dict) -> None:
        self.skipped_steps = list(state.get("skipped_steps", []))


def _few(steps: list) -> str:
    return ", ".join(map(str, steps[:5])) + (", ..." if len(steps) > 5 else "")


def weights_are_finite(model: torch.nn.Module) -> bool:
    """Every parameter and buffer (batch-norm statistics included) finite on every process; one device-to-host read."""
    tensors = [t for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point()]
    if not tensors:
        return True
    ok = torch.stack([torch.isfinite(t).all() for t in tensors]).all().long()
    return bool(all_reduce_min(ok).item())


def assert_finite(guard: NonFiniteGuard, model: torch.nn.Module, step: int, about_to: str) -> None:
    """The guard's verdict, then the weights themselves: a non-finite model is never validated nor written.

    ``step`` is the number of optimizer steps taken, for the message. A collective under DDP.
    """
    guard.check(about_to)
    if not weights_are_finite(model):
        raise NonFiniteError(
            "The model's weights (or batch-norm statistics) are NaN or infinite at optimizer step "
            f"{step}; stopped before {about_to}, "
            "so no checkpoint holds them and last.pth / best.pth are as they were. Lower training.lr or set "
            "training.clip_grad_norm."
        )


class BufferSnapshot:
    """Batch-norm running statistics before a forward pass, restored when that step is dropped."""

    def __init__(self, model: torch.nn.Module):
        self.saved = [(b, b.detach().clone()) for b in model.buffers() if b.is_floating_point()]

    def restore(self) -> None:
        with torch.no_grad():
            for buffer, value in self.saved:
                buffer.copy_(value)
