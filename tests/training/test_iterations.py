"""Checkpoints inside an epoch with an exact resume, and iterations (training.max_iters) as the unit of a run."""

import json

import pytest
from conftest import assert_same_training, tiny_overrides

import train
from utils.checkpoint import load_checkpoint


def run_train(sample_root, out, *extra, resume=False):
    argv = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *extra)]
    return train.main(argv + (["--resume"] if resume else []))


def test_a_mid_epoch_resume_is_bit_identical(sample_root, tmp_path, monkeypatch):
    extra = [
        "training.epochs=2",
        "training.iters_per_epoch=3",
        "training.checkpoint_every_iters=1",
        "training.deterministic=true",
        "training.scheduler=poly",
        "training.num_workers=1",
    ]
    assert run_train(sample_root, tmp_path / "straight", *extra) == 0

    real = train.Trainer._optimizer_step
    calls = {"n": 0}

    def killed_in_the_second_epoch(self, *args):
        calls["n"] += 1
        if calls["n"] == 5:  # step 5 is the second batch of epoch 2: last.pth holds step 4
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(train.Trainer, "_optimizer_step", killed_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_train(sample_root, tmp_path / "resumed", *extra)
    saved = load_checkpoint(tmp_path / "resumed" / "last.pth")
    assert (saved["global_step"], saved["epoch"], saved["epoch_progress"]["samples"]) == (
        4,
        1,
        2,
    )  # one batch of 2 into epoch 2
    monkeypatch.setattr(train.Trainer, "_optimizer_step", real)
    assert run_train(sample_root, tmp_path / "resumed", *extra, resume=True) == 0

    assert_same_training(tmp_path / "straight", tmp_path / "resumed", steps=6, key="loss")  # the epoch's mean loss too


def test_max_iters_ends_mid_epoch_and_validates_every_n_steps(sample_root, tmp_path):
    out = tmp_path / "iters"
    extra = [
        "training.max_iters=5",
        "training.iters_per_epoch=2",
        "training.val_every_iters=2",
        "training.scheduler=poly",
        "training.epochs=99",
    ]
    assert run_train(sample_root, out, *extra) == 0
    ckpt = load_checkpoint(out / "last.pth")
    assert ckpt["global_step"] == 5
    history = json.loads((out / "metrics.json").read_text())
    assert [r["iteration"] for r in history] == [2, 4, 5]  # every 2 steps, then the end
    assert ckpt["schedule"]["step_count"] == 5 and "stage 1/1: 5 steps (3 epochs)" in (out / "train.log").read_text()
    assert (out / "curves.png").stat().st_size > 1000


def test_warmup_longer_than_the_run_is_a_warning(sample_root, tmp_path):
    out = tmp_path / "warm"
    assert (
        run_train(
            sample_root, out, "training.warmup_iters=40", "training.scheduler=cosine", "training.freeze_encoder_iters=5"
        )
        == 0
    )
    log = (out / "train.log").read_text()
    assert "training.warmup_iters=40 is more than this stage's 2 optimizer steps" in log
    assert "training.freeze_encoder_iters=5 covers the whole run" in log
    assert "model.encoder_weights: null freezes random weights" in log


def test_a_validation_on_the_epochs_last_step_is_not_repeated(sample_root, tmp_path):
    out = tmp_path / "once"
    assert run_train(sample_root, out, "training.epochs=2", "training.val_every_iters=2") == 0
    history = json.loads((out / "metrics.json").read_text())
    assert [r["iteration"] for r in history] == [2, 4] and [r["epoch"] for r in history] == [1, 2]
    assert not any(r["partial_epoch"] for r in history) and all(r["loss"] is not None for r in history)
