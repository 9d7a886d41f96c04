"""The epoch loop: with gradient accumulation, the step loss it logs is the mean over the step's micro-batches."""

import pytest
import torch
from conftest import train_quickstart
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
from utils.checkpoint import load_checkpoint


class RecordingLoss(torch.nn.Module):
    """The run's own criterion, noting each training micro-batch's loss as it returns it."""

    def __init__(self, criterion: torch.nn.Module, model: torch.nn.Module):
        super().__init__()
        self.criterion, self.model, self.losses = criterion, model, []

    def forward(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        loss = self.criterion(logits, masks)
        if self.model.training:  # validation's losses are not micro-batches
            self.losses.append(loss.item())
        return loss


def test_the_logged_step_loss_is_the_mean_of_its_micro_batches(sample_root, tmp_path, monkeypatch):
    real, recorded = train.build_training_parts, []

    def recording_parts(*args, **kwargs):
        parts = real(*args, **kwargs)
        parts.criterion = RecordingLoss(parts.criterion, parts.model)
        recorded.append(parts.criterion.losses)
        return parts

    monkeypatch.setattr(train, "build_training_parts", recording_parts)
    out = tmp_path / "accum"
    extra = ["training.accumulation_steps=2", "training.iters_per_epoch=2"]  # 4 micro-batches of 2 images: 2 steps
    assert train_quickstart(sample_root, out, *extra) == 0
    micro = recorded[0]
    assert len(micro) == 4 and abs(micro[0] - micro[1]) > 1e-4 and abs(micro[2] - micro[3]) > 1e-4
    expected = [(micro[0] + micro[1]) / 2, (micro[2] + micro[3]) / 2]
    # The (step, loss, lr) points of curves.png, kept in the checkpoint, and TensorBoard's train/loss.
    points = load_checkpoint(out / "last.pth")["curves"]["train"]
    assert [p[0] for p in points] == [1, 2] and [p[1] for p in points] == pytest.approx(expected, rel=1e-6)
    events = EventAccumulator(str(out / "tensorboard")).Reload().Scalars("train/loss")
    assert [e.step for e in events] == [1, 2] and [e.value for e in events] == pytest.approx(expected, rel=1e-6)
