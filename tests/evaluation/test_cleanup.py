"""Runs that fail midway clean up: videos closed playable, no ffmpeg left behind, no DropClusters threads left."""

import logging
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import torch

from utils.config.loading import config_from_dict
from utils.data.families import build_labels, dataset_family
from utils.evaluation.loop import run_evaluation
from utils.evaluation.predict import PredictionStep
from utils.evaluation.predictor import Predictor
from utils.evaluation.tta import tta_views
from utils.evaluation.video import VideoWriter
from utils.evaluation.video_eval import run_video
from utils.painting.run import run_painting

LOG = logging.getLogger("test_cleanup")


class Model:
    """Uniform probabilities with one class per image column third; raises on call ``fail_at`` (1-based)."""

    def __init__(self, num_classes: int, fail_at: int = 0):
        self.num_classes, self.fail_at, self.calls = num_classes, fail_at, 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("the device fell over")
        n, _, h, w = x.shape
        classes = (torch.arange(w) * 3 // w).view(1, 1, w).expand(n, h, w)
        return torch.nn.functional.one_hot(classes, self.num_classes).permute(0, 3, 1, 2).float()


def fake_setup(tmp_path: Path, model, *overrides):
    """What build_eval_setup gives eval, videos and painting, with ``model`` in place of a checkpoint's."""
    out = tmp_path / "out"
    cfg = config_from_dict(
        {},
        [
            "dataset.size=[32,64]",
            "eval.batch_size=1",
            "eval.num_workers=0",
            "eval.device=cpu",
            "eval.drop_clusters=4",
            f"eval.output_dir={out}",
            f"paths.output_dir={tmp_path}",
            *overrides,
        ],
    )
    labels = build_labels("cityscapes", "categories")
    step = PredictionStep(model, tta_views("none"), labels.num_classes, drop_clusters=cfg.eval.drop_clusters)
    out.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(
        cfg=cfg,
        labels=labels,
        step=step,
        predictor=model,
        views=tta_views("none"),
        checkpoint=tmp_path / "best.pth",
        output_dir=out,
        device=torch.device("cpu"),
        drop_fill="majority",
        family=dataset_family(cfg),
        pictures=[],
    )


def ffmpeg_children() -> list:
    """This process's ffmpeg children, running or zombie (a zombie stays listed until it is waited for)."""
    pids = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        pids += children.read_text().split()
    names = {pid: Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids if Path(f"/proc/{pid}/comm").exists()}
    return [f"{pid} {name}" for pid, name in names.items() if "ffmpeg" in name]


def drop_cluster_threads() -> set:
    """The DropClusters worker threads alive now (another test's pool may still be ending: compare sets)."""
    return {t for t in threading.enumerate() if t.name.startswith("drop-clusters")}


def decoded_frames(path: Path) -> int:
    reader = imageio_ffmpeg.read_frames(str(path))
    next(reader)  # the metadata
    count = sum(1 for _ in reader)
    reader.close()
    return count


def frames(count: int, h: int = 48, w: int = 64) -> list:
    return [np.full((h, w, 3), 20 * k, np.uint8) for k in range(count)]


def video_run(tmp_path, model):
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, (64, 48), 10) as writer:
        for frame in frames(8):
            writer.write(frame)
    setup = fake_setup(tmp_path, model)
    return (lambda: run_video(setup, LOG, clip)), setup.output_dir / "clip_overlay.mp4"


def folder_run(tmp_path, model):
    folder = tmp_path / "images"
    folder.mkdir()
    for k, frame in enumerate(frames(8)):
        cv2.imwrite(str(folder / f"frame_{k:02d}.png"), frame)
    setup = fake_setup(tmp_path, model, "eval.max_images=2")
    return (lambda: run_evaluation(setup, LOG, folder=folder)), setup.output_dir / "predictions.mp4"


def paint_run(tmp_path, model, sample_root):
    setup = fake_setup(
        tmp_path, model, f"paint.root={sample_root / 'kitti'}", "paint.video=true", "paint.max_pictures=1"
    )
    return (lambda: run_painting(setup, LOG)), tmp_path / "paint" / "painted_points.mp4"


# Batches of one frame. Eval and videos submit batch i + 1 before writing batch i, so a failure at the 5th model
# call comes after 3 frames were written; painting is not pipelined: its 4th call fails after 3 frames.
@pytest.mark.parametrize("run, fail_at", [("video", 5), ("folder", 5), ("paint", 4)])
def test_a_run_that_fails_midway_leaves_a_playable_video_and_no_ffmpeg(run, fail_at, tmp_path, sample_root):
    model = Model(8, fail_at)
    if run == "paint":
        start, video = paint_run(tmp_path, model, sample_root)
    else:
        start, video = {"video": video_run, "folder": folder_run}[run](tmp_path, model)
    before, threads = ffmpeg_children(), drop_cluster_threads()
    # Held, the failure keeps the run's frames and their locals alive, as an error handler or debugger does:
    # what is cleaned up is cleaned up by the run's finally, not by garbage collection.
    with pytest.raises(RuntimeError, match="the device fell over") as failure:
        start()
    assert ffmpeg_children() == before, f"an ffmpeg process outlived the failed run ({failure.typename})"
    assert drop_cluster_threads() <= threads, "DropClusters' threads outlived the failed run"
    assert decoded_frames(video) == 3  # playable, with the frames written before the failure


def test_a_video_without_frames_is_removed(tmp_path):
    before = ffmpeg_children()
    VideoWriter(tmp_path / "empty.mp4", (64, 48), 10).close()
    assert not (tmp_path / "empty.mp4").exists() and ffmpeg_children() == before


def test_predictors_closed_or_used_with_with_leave_no_threads(tmp_path):
    image = frames(1, 40, 60)[0]
    before = drop_cluster_threads()
    predictors = []  # kept alive: threads must end by close(), not by garbage collection
    for k in range(20):
        predictor = Predictor(fake_setup(tmp_path / str(k), Model(8)))
        predictors.append(predictor)
        if k % 2:
            with predictor as p:
                assert p(image).shape == (40, 60)
                assert drop_cluster_threads() - before  # DropClusters > 0: its pool is running
        else:
            assert predictor(image).shape == (40, 60)
            predictor.close()
    assert drop_cluster_threads() <= before
    # A closed predictor still predicts (its pool starts again) and closes again.
    with predictors[0] as p:
        assert p([image, image])[1].shape == (40, 60)
    assert drop_cluster_threads() <= before
