import json

import pytest
import torch
import yaml
from conftest import assert_same_training, checkpoint_with_class_names, copy_run, tiny_overrides
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
from utils.checkpoint import load_checkpoint
from utils.config.errors import EXIT_USER_ERROR
from utils.evaluation.setup import merged_config


def run_train(sample_root, out, *extra, resume=False):
    argv = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *extra)]
    return train.main(argv + (["--resume"] if resume else []))


def test_two_iteration_smoke_run(tiny_run):
    out = tiny_run  # run_train(sample_root, out), trained once for the session
    for name in ("config.yaml", "last.pth", "best.pth", "train.log", "metrics.json"):
        assert (out / name).is_file(), name
    ckpt = checkpoint_with_class_names(out / "last.pth")
    assert ckpt["global_step"] == 2 and ckpt["epoch"] == 1 and ckpt["class_names"][0] == "void"
    assert {"model", "optimizer", "schedule", "scaler", "rng", "config", "palette", "best"} <= set(ckpt)
    assert yaml.safe_load((out / "config.yaml").read_text())["dataset"]["size"] == [64, 128]
    records = json.loads(
        (out / "metrics.json").read_text(), parse_constant=lambda token: pytest.fail(f"{token} in metrics.json")
    )
    assert len(records) == 1 and {"epoch", "loss", "miou", "mean_dice", "per_class", "val_loss"} <= set(records[0])
    assert set(records[0]["per_class"]) == set(ckpt["class_names"])
    assert "mIoU" in (out / "train.log").read_text()
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    tags = events.Tags()
    assert {"train/loss", "train/lr", "val/miou", "val/loss", "val_iou/vehicle", "val_dice/sky"} <= set(tags["scalars"])
    assert "val/input_gt_prediction" in tags["images"]
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]


def test_training_starts_from_a_local_encoder_weights_file(sample_root, tmp_path):
    """model.encoder_weights: <file> for an offline machine; a frozen encoder keeps the file's weights to the end."""
    import torchvision

    weights = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(weights, path)
    out = tmp_path / "run"
    assert run_train(sample_root, out, f"model.encoder_weights={path}", "training.freeze_encoder_iters=2") == 0
    assert (
        f"encoder weights from {path}: loaded 120 tensors; skipped 2 classifier tensors"
        in (out / "train.log").read_text()
    )
    model = load_checkpoint(out / "last.pth")["model"]
    assert torch.equal(model["encoder.layer4.1.conv2.weight"], weights["layer4.1.conv2.weight"])


def test_refuses_to_overwrite_a_run(tiny_run, sample_root, tmp_path, capsys):
    out = copy_run(tiny_run, tmp_path / "run")  # a finished run_train(sample_root, out)
    before = (out / "last.pth").read_bytes()
    argv = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out)]
    assert train.run_main(train.main, argv) == EXIT_USER_ERROR
    assert "--resume" in capsys.readouterr().err and (out / "last.pth").read_bytes() == before


def test_interrupted_then_resumed_equals_uninterrupted(sample_root, tmp_path, monkeypatch):
    # One loader worker: worker start-up must not shift the RNG stream that dropout draws from.
    extra = [
        "training.epochs=3",
        "training.deterministic=true",
        "training.iters_per_epoch=2",
        "training.scheduler=poly",
        "training.num_workers=1",
    ]
    assert run_train(sample_root, tmp_path / "straight", *extra) == 0

    calls = {"n": 0}
    real = train.Trainer.train_one_epoch

    def crash_in_second_epoch(self, stage, epoch, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if killed mid-epoch: last.pth holds epoch 1
        return real(self, stage, epoch, *args)

    monkeypatch.setattr(train.Trainer, "train_one_epoch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_train(sample_root, tmp_path / "resumed", *extra)
    assert load_checkpoint(tmp_path / "resumed" / "last.pth")["epoch"] == 1
    monkeypatch.setattr(train.Trainer, "train_one_epoch", real)
    assert run_train(sample_root, tmp_path / "resumed", *extra, resume=True) == 0

    assert_same_training(tmp_path / "straight", tmp_path / "resumed", steps=6)


def test_init_from_another_class_count(tiny_run, sample_root, tmp_path):
    source = load_checkpoint(tiny_run / "last.pth")["model"]  # run_train's categories run
    extra = [
        "dataset.labels=road",
        f"training.init_from={tiny_run / 'last.pth'}",
        "training.iters_per_epoch=1",
        "training.lr=1e-12",
    ]
    assert run_train(sample_root, tmp_path / "road", *extra) == 0
    target = checkpoint_with_class_names(tmp_path / "road" / "last.pth")
    assert target["class_names"] == ["road", "rest"]
    head = "head.0.weight"
    assert source[head].shape[0] == 8 and target["model"][head].shape[0] == 2
    # With a vanishing lr the transferred encoder stays (almost exactly) the source's.
    name = "encoder.layer1.0.conv1.weight"
    assert torch.allclose(source[name], target["model"][name], atol=1e-6)
    assert "copied class by position" not in (tmp_path / "road" / "train.log").read_text()  # another count: fresh head


def test_init_from_other_classes_of_the_same_count_is_warned(tiny_run, sample_root, tmp_path):
    seven = "dataset.labels=[road, sidewalk, building, wall, fence, pole, sky]"  # + rest: 8, as the 8 categories
    extra = [seven, f"training.init_from={tiny_run / 'last.pth'}", "training.iters_per_epoch=1"]
    assert run_train(sample_root, tmp_path / "seven", *extra) == 0
    log = (tmp_path / "seven" / "train.log").read_text()
    assert "warning: init_from's 8 classes (void, flat, construction, object, ...) are not this run's (road," in log


def test_two_stages_run_in_sequence(sample_root, tmp_path):
    stages = "training.stages=[{epochs: 1, size: [64, 128]}, {epochs: 1, size: [96, 160], batch_size: 1, lr: 0.0005}]"
    assert run_train(sample_root, tmp_path / "staged", stages) == 0
    ckpt = load_checkpoint(tmp_path / "staged" / "last.pth")
    assert ckpt["stage"] == 1 and ckpt["global_step"] == 4
    history = ckpt["history"]
    assert [r["stage"] for r in history] == [1, 2] and [r["epoch"] for r in history] == [1, 2]
    log = (tmp_path / "staged" / "train.log").read_text()
    assert "stage 1/2: 1 epochs at 64x128" in log and "stage 2/2: 1 epochs at 96x160, batch 1" in log
    # eval.py predicts at the size the last stage trained at, not dataset.size.
    cfg, _, _ = merged_config("configs/quickstart.yaml", str(tmp_path / "staged" / "last.pth"), [])
    assert cfg.dataset.size == [96, 160]


def test_missing_dataset_is_a_clear_error(tmp_path, capsys):
    argv = [
        "--config_path",
        "train_config.yaml",
        "--set",
        f"paths.root={tmp_path / 'none'}",
        f"paths.output_dir={tmp_path / 'out'}",
    ]
    assert train.run_main(train.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "cityscapes-dataset.com" in err and "quickstart" in err and "Traceback" not in err


def test_the_ohem_recipe_trains(sample_root, tmp_path):
    # The 19-class OHEM recipe at the tiny scale: min_kept 100000 is more than the 2 x 64 x 128 pixels of a batch.
    out = tmp_path / "ohem"
    tiny = tiny_overrides(sample_root, out, "dataset.crop_size=null", "training.max_iters=2")
    assert train.main(["--config_path", "configs/cityscapes_classes19_fpn_r50_80k_ohem.yaml", "--set", *tiny]) == 0
    assert "loss ce_dice with OHEM (thresh 0.7, min_kept 100000 per process)" in (out / "train.log").read_text()
    record = json.loads((out / "metrics.json").read_text())[-1]
    assert record["iteration"] == 2 and 0 < record["loss"] < 10 and 0 < record["val_loss"] < 10
    assert load_checkpoint(out / "last.pth")["config"]["training"]["ohem_thresh"] == 0.7
