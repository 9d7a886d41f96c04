"""A video file in, the same video with the prediction overlaid out."""

import numpy as np
from tqdm import tqdm

from utils.data.transforms import prediction_batch
from utils.evaluation.predict import pipelined
from utils.evaluation.pseudo_labels import pseudo_label_writer
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
    """Writes ``<eval.output_dir>/<video stem>_overlay.mp4`` at the input's frame rate, and with
    eval.pseudo_label_threshold every frame's pseudo-labels (``<video stem>_<frame index>``); returns its path."""
    cfg, labels = setup.cfg, setup.labels
    info = video_info(path)
    out_path = setup.output_dir / f"{path.stem}_overlay.mp4"
    palette = labels.palette()
    pseudo = pseudo_label_writer(setup)
    reduce = pseudo.reduce if pseudo is not None else None

    def submit(frames):
        # dataset.size, the training scale, for whole-image and sliding-window inference alike
        return setup.step.submit(prediction_batch(frames, cfg.dataset.size), [f.shape[:2] for f in frames], reduce)

    frames = read_video(path)
    # Whatever fails midway, the reading and the writing ffmpeg stop, the video so far stays playable and
    # DropClusters' threads end.
    try:
        with (
            VideoWriter(out_path, info["size"], info["fps"]) as writer,
            tqdm(frames, total=info["frames"], desc="video", dynamic_ncols=True) as shown,
        ):
            for batch, predictions in pipelined(setup.step, _batches(shown, cfg.eval.batch_size), submit):
                for frame, prediction in zip(batch, predictions):
                    blended = overlay(np.ascontiguousarray(frame), prediction.final, palette, cfg.eval.overlay_alpha)
                    if pseudo is not None:
                        pseudo.add(f"{path.stem}_{writer.count:06d}.png", frame, prediction)
                    writer.write(blended)
    finally:
        frames.close()
        setup.step.close()
    log.info(f"wrote {out_path} ({writer.count} frames, {info['fps']:.1f} fps)")
    if pseudo is not None:
        pseudo.report(log)
    return str(out_path)
