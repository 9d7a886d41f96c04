"""A video file in, the same video with the prediction overlaid out."""

import numpy as np
from tqdm import tqdm

from utils.data.transforms import prediction_batch
from utils.evaluation.predict import pipelined
from utils.evaluation.video import VideoWriter, read_video, video_info
from utils.visualize import overlay


def _batches(frames, size: int):
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_video(setup, log, path) -> str:
    """Writes ``<eval.output_dir>/<video stem>_overlay.mp4`` at the input's frame rate; returns its path."""
    cfg, labels = setup.cfg, setup.labels
    info = video_info(path)
    out_path = setup.output_dir / f"{path.stem}_overlay.mp4"
    writer = VideoWriter(out_path, info["size"], info["fps"])
    palette = labels.palette()

    def submit(frames):
        # dataset.size, the training scale, for whole-image and sliding-window inference alike
        return setup.step.submit(prediction_batch(frames, cfg.dataset.size), [f.shape[:2] for f in frames])

    try:
        frames = tqdm(read_video(path), total=info["frames"], desc="video", dynamic_ncols=True)
        for batch, predictions in pipelined(setup.step, _batches(frames, cfg.eval.batch_size), submit):
            for frame, prediction in zip(batch, predictions):
                writer.write(overlay(np.ascontiguousarray(frame), prediction.final, palette, cfg.eval.overlay_alpha))
    finally:
        writer.close()
    log.info(f"wrote {out_path} ({writer.count} frames, {info['fps']:.1f} fps)")
    return str(out_path)
