"""A video file in, the same video with the prediction overlaid out."""

import numpy as np
import torch
from tqdm import tqdm

from utils.data.transforms import resize_transform, to_tensor
from utils.evaluation.drop_clusters import drop_clusters
from utils.evaluation.inference import upsample_to
from utils.evaluation.tta import predict_with_tta
from utils.evaluation.video import VideoWriter, read_video, video_info
from utils.visualize import overlay


def run_video(setup, log, path) -> str:
    """Writes ``<eval.output_dir>/<video stem>_overlay.mp4`` at the input's frame rate; returns its path."""
    cfg, labels = setup.cfg, setup.labels
    info = video_info(path)
    out_path = setup.output_dir / f"{path.stem}_overlay.mp4"
    writer = VideoWriter(out_path, info["size"], info["fps"])
    resize = resize_transform(cfg.dataset.size)  # the training scale, for whole-image and sliding-window inference alike
    palette = labels.palette()
    frames = []

    def flush():
        images = torch.stack([to_tensor(resize(image=f)["image"]) for f in frames])
        probs = predict_with_tta(setup.predictor, images, setup.views, cfg.eval.merge, cfg.eval.tsharpen_t)
        for frame, p in zip(frames, probs):
            pred = upsample_to(p, frame.shape[:2]).argmax(0).byte().cpu().numpy()
            if cfg.eval.drop_clusters > 0:
                pred = drop_clusters(pred, cfg.eval.drop_clusters, setup.drop_fill, labels.num_classes)
            writer.write(overlay(np.ascontiguousarray(frame), pred, palette, cfg.eval.overlay_alpha))
        frames.clear()

    try:
        for frame in tqdm(read_video(path), total=info["frames"], desc="video", dynamic_ncols=True):
            frames.append(frame)
            if len(frames) == cfg.eval.batch_size:
                flush()
        if frames:
            flush()
    finally:
        writer.close()
    log.info(f"wrote {out_path} ({writer.count} frames, {info['fps']:.1f} fps)")
    return str(out_path)
