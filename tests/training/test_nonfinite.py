"""A NaN or infinite loss never reaches a checkpoint: stop (exit 3) or skip, with the last good files untouched."""

import json

import torch
from conftest import copy_run, tiny_overrides

import train
from utils.checkpoint import load_checkpoint
from utils.config.errors import EXIT_NONFINITE
from utils.training.nonfinite import NonFiniteGuard, weights_are_finite
from utils.training.step import optimizer_step


def argv_for(sample_root, out, *extra, resume=False):
    argv = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *extra)]
    return argv + (["--resume"] if resume else [])


def run_files(out) -> dict:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.suffix in (".pth", ".yaml", ".json")}


def test_a_huge_lr_stops_with_exit_3_and_writes_no_checkpoint(sample_root, tmp_path, capsys):
    out = tmp_path / "nan"
    code = train.run_main(train.main, argv_for(sample_root, out, "training.lr=1e30", "training.iters_per_epoch=4"))
    err = capsys.readouterr().err
    assert code == EXIT_NONFINITE, err
    assert "NaN or infinite" in err and "optimizer step" in err and "(epoch 1)" in err and "Traceback" not in err
    assert not (out / "last.pth").exists() and not (out / "best.pth").exists()


def test_resuming_a_good_run_with_a_bad_lr_leaves_it_as_it_was(tiny_run, sample_root, tmp_path, capsys):
    out = copy_run(tiny_run, tmp_path / "good")  # argv_for's run, finished
    before = run_files(out)
    assert {"last.pth", "best.pth", "config.yaml", "metrics.json"} <= set(before)
    code = train.run_main(
        train.main,
        argv_for(sample_root, out, "training.lr=1e30", "training.epochs=2", "training.iters_per_epoch=4", resume=True),
    )
    assert code == EXIT_NONFINITE, capsys.readouterr().err
    assert run_files(out) == before  # last.pth, best.pth, config.yaml and metrics.json byte for byte


def test_skip_drops_the_bad_step_and_keeps_training(sample_root, tmp_path, monkeypatch):
    real = train.build_training_parts
    calls = {"n": 0}

    def nan_images_in_the_third_batch(*args, **kwargs):
        parts = real(*args, **kwargs)
        model, forward = parts.model, parts.model.forward

        def poisoned(x):
            if model.training:
                calls["n"] += 1
                if calls["n"] == 3:  # NaN inputs: the loss, the gradients and the batch-norm statistics all go NaN
                    x = x * float("nan")
            return forward(x)

        model.forward = poisoned
        return parts

    monkeypatch.setattr(train, "build_training_parts", nan_images_in_the_third_batch)
    out = tmp_path / "skip"
    assert (
        train.main(
            argv_for(sample_root, out, "training.nonfinite=skip", "training.iters_per_epoch=4", "training.epochs=1")
        )
        == 0
    )
    ckpt = load_checkpoint(out / "last.pth")
    assert ckpt["curves"]["skipped_steps"] == [3] and ckpt["global_step"] == 3  # four batches, one step dropped
    # Weights and batch-norm running statistics: the dropped step's forward pass left nothing behind.
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert (out / "curves.png").stat().st_size > 1000
    assert (
        json.loads((out / "metrics.json").read_text())[-1]["loss"] is not None
    )  # the epoch mean leaves the dropped step out


def test_skip_with_an_fp16_scaler_and_clipping_keeps_stepping():
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=True)
    guard = NonFiniteGuard("skip", 5, torch.device("cpu"))
    for step, scale in enumerate([1.0, float("nan"), 1.0], start=1):
        loss = model(torch.ones(2, 3)).sum() * scale
        scaler.scale(loss).backward()
        assert optimizer_step(model, optimizer, scaler, 1.0, guard, loss.detach(), step, 1) == (scale == 1.0)
    assert guard.skipped_steps == [2] and all(torch.isfinite(p).all() for p in model.parameters())


def test_skip_stops_after_max_nonfinite_steps(sample_root, tmp_path, capsys):
    out = tmp_path / "skip_many"
    extra = (
        "training.lr=1e30",
        "training.nonfinite=skip",
        "training.max_nonfinite_steps=1",
        "training.iters_per_epoch=6",
    )
    assert train.run_main(train.main, argv_for(sample_root, out, *extra)) == EXIT_NONFINITE
    err = capsys.readouterr().err
    assert "more than training.max_nonfinite_steps=1" in err and not (out / "last.pth").exists()


def test_weights_are_finite_sees_batch_norm_statistics():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    assert weights_are_finite(model)
    model[1].running_var[0] = float("inf")
    assert not weights_are_finite(model)
