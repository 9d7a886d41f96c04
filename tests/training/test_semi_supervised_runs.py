"""Semi-supervised training end to end: short runs from a folder, a video and a split (TensorBoard's unlabeled/*
scalars and train.log), an interrupted EMA-teacher run resumed mid-epoch equal to an uninterrupted one, the checkpoint
format, and each mistake with the unlabelled source ending in one error line."""

import logging
import re
import subprocess
import sys

import cv2
import imageio_ffmpeg
import pytest
import torch
from conftest import assert_same_training, copy_run, tiny_overrides
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
import utils.checkpoint.disk
from utils.checkpoint import Checkpoint, load_checkpoint
from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.data.unlabeled import FRAMES_FOLDER
from utils.evaluation.video import VideoWriter
from utils.runtime import get_logger

# bce_dice's sigmoid confidences of a barely trained model: a threshold every run reaches on some pixels. A small
# FPN (290k parameters): these runs write checkpoints with an EMA teacher beside the model every step or two.
SEMI = [
    "unlabeled.threshold=0.6",
    "model.encoder=tu-mobilenetv3_small_050",
    "model.fpn_pyramid_channels=64",
    "model.fpn_segmentation_channels=32",
]


def argv(sample_root, out, *extra, resume=False) -> list:
    args = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *SEMI, *extra)]
    return args + (["--resume"] if resume else [])


def demo_frames(sample_root):
    return sample_root / "cityscapes" / "leftImg8bit" / "demoVideo"


def write_video(sample_root, path):
    frames = sorted(demo_frames(sample_root).rglob("*.png"))
    first = cv2.imread(str(frames[0]))
    with VideoWriter(path, (first.shape[1], first.shape[0]), fps=5) as writer:
        for frame in frames:
            writer.write(cv2.cvtColor(cv2.imread(str(frame)), cv2.COLOR_BGR2RGB))
    return path


def unlabeled_scalars(run) -> dict:
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    return {t: events.Scalars(t) for t in events.Tags()["scalars"] if t.startswith("unlabeled/")}


@pytest.mark.parametrize("kind", ["folder", "video", "split", "rest of train"])
def test_a_short_run_learns_from_each_kind_of_source(kind, sample_root, tmp_path, tiny_run, monkeypatch):
    out, steps = tmp_path / "run", 2
    source, images, described = {
        "folder": ([f"unlabeled.source={demo_frames(sample_root)}"], 6, f"folder {demo_frames(sample_root)}"),
        "video": ([f"unlabeled.source={tmp_path / 'drive.mp4'}", "unlabeled.every=2"], 3, "video"),
        "split": (["unlabeled.split=train_extra"], 2, "split train_extra of cityscapes without labels"),
        # Half of the 8 train images keep their labels; the other half is the unlabelled set.
        "rest of train": (["unlabeled.split=train", "dataset.train_fraction=0.5"], 4, "split train of cityscapes"),
    }[kind]
    if kind == "video":
        write_video(sample_root, tmp_path / "drive.mp4")
    assert train.main(argv(sample_root, out, *source, f"training.iters_per_epoch={steps}")) == 0

    log = (out / "train.log").read_text()
    assert f"unlabeled: {images} images ({described}" in log and "teacher self, threshold 0.6" in log
    if kind == "video":
        assert f"{tmp_path / 'drive.mp4'}, every 2 frames)" in log
    assert re.search(r"epoch 1/1 \| loss [\d.]+ \| unlabeled loss [\d.]+, confident [\d.]+%", log)
    scalars = unlabeled_scalars(out)
    assert [e.step for e in scalars["unlabeled/loss"]] == list(range(1, steps + 1))
    assert all(0 < e.value <= 1 for e in scalars["unlabeled/confident_share"])
    shares = {t: [e.value for e in v] for t, v in scalars.items() if t.startswith("unlabeled/class_share/")}
    assert len(shares) == 8 and [sum(s) for s in zip(*shares.values())] == pytest.approx([1.0] * steps)
    ckpt = load_checkpoint(out / "last.pth")
    assert ckpt["unlabeled"]["position"] == 2 * steps and ckpt["unlabeled"]["teacher"] is None  # self: nothing kept
    if kind == "video":  # the every-2nd frames, extracted once into the run folder
        folders = list((out / FRAMES_FOLDER).iterdir())
        assert len(folders) == 1 and len(list(folders[0].glob("drive_*.png"))) == 3
    if kind == "split":  # format 4, which a toolkit from before it refuses; a supervised run stays format 3
        assert ckpt["format_version"] == 4 and load_checkpoint(tiny_run / "last.pth")["format_version"] == 3
        monkeypatch.setattr(utils.checkpoint.disk, "FORMAT_VERSION", 3)  # what a toolkit before format 4 reads
        Checkpoint.load(tiny_run / "last.pth")
        with pytest.raises(UserError, match="has format_version 4, written by a newer version of this toolkit"):
            Checkpoint.load(out / "last.pth")


class RecordingLoss(torch.nn.Module):
    """The run's own criterion, noting (batch size, loss) of each training call."""

    def __init__(self, criterion: torch.nn.Module, calls: list):
        super().__init__()
        self.criterion, self.calls = criterion, calls

    def forward(self, outputs, target):
        loss = self.criterion(outputs, target)
        if outputs.requires_grad:  # validation's losses are not training's
            self.calls.append((target.shape[0], loss.item()))
        return loss


def test_the_step_loss_adds_the_weighted_unlabelled_loss_from_start_iters(sample_root, tmp_path, monkeypatch):
    real, calls = train.build_training_parts, []

    def recording_parts(*args, **kwargs):
        parts = real(*args, **kwargs)
        parts.criterion = RecordingLoss(parts.criterion, calls)
        return parts

    monkeypatch.setattr(train, "build_training_parts", recording_parts)
    out = tmp_path / "run"
    # 1 unlabelled image a step; its loss as the criterion gives it (normalize=all scales it, tested on its own)
    extra = ["unlabeled.start_iters=1", "unlabeled.weight=0.5", "unlabeled.ratio=0.5", "unlabeled.normalize=confident"]
    assert train.main(argv(sample_root, out, f"unlabeled.source={demo_frames(sample_root)}", *extra)) == 0
    # Step 1 trains on the labelled pair only; step 2 on the unlabelled image too, with the same criterion.
    assert [n for n, _ in calls] == [2, 1, 2]
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    logged = [e.value for e in events.Scalars("train/loss")]
    assert logged == pytest.approx([calls[0][1], calls[2][1] + 0.5 * calls[1][1]], rel=1e-6)
    assert [(e.step, e.value) for e in events.Scalars("unlabeled/loss")] == [(2, pytest.approx(calls[1][1], rel=1e-6))]
    assert load_checkpoint(out / "last.pth")["unlabeled"]["position"] == 2  # drawn before start_iters too


def test_an_interrupted_ema_run_resumes_mid_epoch_exactly(sample_root, tmp_path, monkeypatch):
    extra = [
        f"unlabeled.source={demo_frames(sample_root)}",  # 6 images, 2 a step: the stream wraps in step 3
        "unlabeled.teacher=ema",
        "unlabeled.ema_decay=0.9",
        "training.epochs=2",
        "training.checkpoint_every_iters=3",
        "training.scheduler=poly",
        "training.num_workers=1",
    ]
    assert train.main(argv(sample_root, tmp_path / "straight", *extra)) == 0

    real, calls = train.Trainer._optimizer_step, {"n": 0}

    def killed_in_the_second_epoch(self, *args):
        calls["n"] += 1
        if calls["n"] == 4:  # step 4 is the second batch of epoch 2: last.pth holds step 3, inside the epoch
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(train.Trainer, "_optimizer_step", killed_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train.main(argv(sample_root, tmp_path / "resumed", *extra))
    saved = load_checkpoint(tmp_path / "resumed" / "last.pth")
    assert (saved["global_step"], saved["epoch_progress"]["samples"], saved["unlabeled"]["position"]) == (3, 2, 6)
    monkeypatch.setattr(train.Trainer, "_optimizer_step", real)
    assert train.main(argv(sample_root, tmp_path / "resumed", *extra, resume=True)) == 0

    assert_same_training(tmp_path / "straight", tmp_path / "resumed", steps=4, key="loss")
    a, b = (load_checkpoint(tmp_path / run / "last.pth")["unlabeled"] for run in ("straight", "resumed"))
    assert a["position"] == b["position"] == 8
    for name, value in a["teacher"].items():
        assert torch.equal(value, b["teacher"][name]), name
    assert not torch.equal(saved["unlabeled"]["teacher"]["head.0.weight"], a["teacher"]["head.0.weight"])  # it moves
    assert not torch.equal(
        a["teacher"]["head.0.weight"], load_checkpoint(tmp_path / "straight" / "last.pth")["model"]["head.0.weight"]
    )
    epoch_2 = [
        re.search(r"epoch 2/2 \| (loss .*?)\| val", (tmp_path / run / "train.log").read_text()).group(1)
        for run in ("straight", "resumed")
    ]
    assert epoch_2[0] == epoch_2[1] and "unlabeled loss" in epoch_2[0]  # the epoch's sums carried over the resume


def console_here(monkeypatch) -> None:
    """Points the toolkit's console log at this test's captured stdout: an earlier test may have left it on a
    capture that is closed now, whose errors would land in stderr."""
    for handler in get_logger().handlers:
        if type(handler) is logging.StreamHandler:
            monkeypatch.setattr(handler, "stream", sys.stdout)


@pytest.mark.parametrize("written", ["today", "before the unlabeled section"])
def test_a_supervised_run_is_not_resumed_with_unlabelled_images(
    written, tiny_run, sample_root, tmp_path, capsys, monkeypatch
):
    console_here(monkeypatch)
    run = copy_run(tiny_run, tmp_path / "run")
    if written != "today":  # a last.pth whose config has no unlabeled keys to compare
        last = torch.load(run / "last.pth", weights_only=True)
        last["config"].pop("unlabeled")
        (run / "last.pth").unlink()  # a hard link to the shared run's file: replaced, never written into
        torch.save(last, run / "last.pth")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    overrides = tiny_overrides(sample_root, run, "unlabeled.split=train_extra", "training.epochs=2")  # tiny_run's model
    args = ["--config_path", "configs/quickstart.yaml", "--set", *overrides, "--resume"]
    assert train.run_main(train.main, args) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    expected = " with unlabelled images" if written != "today" else ": unlabeled.split is train_extra here but null"
    assert err.startswith(f"error: Cannot resume '{run}'{expected}") and len(err.splitlines()) == 1, err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def _corrupt_images(folder):
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(b"\x89PNG not really")
    return folder


def _audio_only(path):
    tone = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "0.2", "-c:a", "aac"]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *tone, str(path)], check=True)
    return path


# (the overrides, what the error line says, whether it stops before the run folder is made)
ERRORS = {
    "both": (["unlabeled.source=x", "unlabeled.split=train_extra"], "'unlabeled.source' ('x') and", True),
    "missing": (["unlabeled.source={tmp}/nowhere"], "(unlabeled.source) does not exist", True),
    "empty folder": (["unlabeled.source={tmp}"], "(unlabeled.source) holds no images", True),
    "unreadable image": (["unlabeled.source={corrupt}"], "Cannot read unlabelled image", False),
    "not a video": (["unlabeled.source={garbage}"], "ffmpeg cannot open it or finds no video stream", True),
    "no frames": (["unlabeled.source={audio}"], "ffmpeg cannot open it or finds no video stream", True),
    "unknown split": (["unlabeled.split=extra"], "'unlabeled.split' is 'extra'; target cityscapes has", True),
    "threshold 0": (["unlabeled.threshold=0"], "'unlabeled.threshold' is 0.0; it must lie in (0, 1]", True),
    "threshold 1.5": (["unlabeled.threshold=1.5"], "'unlabeled.threshold' is 1.5; it must lie in (0, 1]", True),
    "all labelled": (["unlabeled.split=train"], "are among the labelled training items (8)", False),
    "too few": (["unlabeled.split=train_extra", "unlabeled.ratio=2"], "leaves 2 unlabelled images, fewer", False),
}


def is_progress_bar(line: str) -> bool:
    return bool(re.search(r"\| *\d+/\d+ \[", line))


@pytest.mark.parametrize("case", list(ERRORS))
def test_each_mistake_is_one_error_line(case, sample_root, tmp_path, capsys, monkeypatch):
    console_here(monkeypatch)
    overrides, message, early = ERRORS[case]
    files = {"tmp": tmp_path / "empty", "corrupt": tmp_path / "corrupt", "garbage": tmp_path / "garbage.mp4"}
    files["empty"] = files["tmp"]
    files["tmp"].mkdir()
    (files["tmp"] / "notes.txt").write_text("no images here")
    if case == "unreadable image":
        _corrupt_images(files["corrupt"])
    if case == "not a video":
        files["garbage"].write_bytes(bytes(range(256)) * 8)
    if case == "no frames":
        files["audio"] = _audio_only(tmp_path / "audio.mp4")
    overrides = [o.format(**{k: str(v) for k, v in files.items()}) for o in overrides]
    out = tmp_path / "run"
    assert train.run_main(train.main, argv(sample_root, out, *overrides)) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    others = [line for line in err.splitlines() if line.strip() and not line.startswith("error:")]
    assert len(errors) == 1 and all(map(is_progress_bar, others)), err  # one line, besides cleared progress bars
    assert message in errors[0], errors[0]
    assert not (out / "last.pth").exists() and (not early or not out.exists())
