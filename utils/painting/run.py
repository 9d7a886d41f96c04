"""paint_points.py's loop: predict every frame at full resolution, paint its scan, cluster, write, measure."""

import json
import time
from pathlib import Path

import cv2
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from utils.config.errors import UserError
from utils.data.families.base import Item
from utils.data.loaders import build_dataset, build_loader
from utils.data.segmentation import read_rgb
from utils.evaluation.video import VideoWriter
from utils.files import atomic_write_text, format_number, to_json
from utils.painting.clusters import cluster_objects, ground_count, object_class_indices
from utils.painting.layouts import LAYOUT_NAMES, find_frames
from utils.painting.paint import paint_scan
from utils.painting.pictures import bev_picture, camera_picture
from utils.painting.point_files import read_point_labels, read_scan, write_array, write_ply
from utils.painting.scoring import PaintScorer, truth_table
from utils.visualize import save_rgb


def _object_classes(cfg, names) -> list:
    wanted = cfg.paint.object_classes
    unknown = [n for n in wanted or [] if n not in names]
    if unknown:
        raise UserError(
            f"paint.object_classes names {unknown}, which the model does not predict; its classes are: "
            f"{', '.join(names)}."
        )
    return object_class_indices(names, wanted)


def _loader(setup, frames, log):
    """Frames resized to dataset.size's height at their own aspect (the model pads to its stride): the training
    scale; with eval.inference slide, dataset.crop_size windows run over that image, as in eval."""
    cfg = setup.cfg
    height, width = image_size(frames[0].image)
    size = [cfg.dataset.size[0], max(32, round(cfg.dataset.size[0] * width / height))]
    log.info(
        f"frames of {height}x{width} are predicted at {size[0]}x{size[1]} (dataset.size's height, the frames' aspect) "
        "and upsampled back"
    )
    items = [Item(f.image, None, f.name) for f in frames]
    dataset = build_dataset(cfg, setup.labels, "test", "predict", size=size, items=items, use_cache=False)
    return build_loader(dataset, cfg.eval.batch_size, cfg.eval.num_workers, train=False)


def image_size(path) -> tuple:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UserError(f"Cannot read image '{path}'.")
    return image.shape[:2]


def run_painting(setup, log) -> dict:
    """Paints every frame of paint.root (paint.split of the road or object benchmark, every drive of a raw recording);
    returns the metrics written to paint_metrics.json."""
    cfg, names = setup.cfg, list(setup.labels.names)
    key = "paint.root" if cfg.paint.root else "paths.root, as paint.root is null"
    found = find_frames(cfg.paint.root or cfg.paths.root, cfg.paint.split, key)
    frames, missing = found.frames, found.missing
    if missing:
        log.warning(f"{len(missing)} frames lack a calib file or a Velodyne scan and are skipped (e.g. {missing[0]})")
    out = Path(cfg.paint.output_dir) if cfg.paint.output_dir else Path(cfg.paths.output_dir) / "paint"
    out.mkdir(parents=True, exist_ok=True)
    objects = _object_classes(cfg, names)
    if not objects:
        log.warning(
            f"no object class among the model's classes ({', '.join(names)}): no clusters; set paint.object_classes "
            "to cluster some"
        )
    lut = truth_table(setup.family, setup.labels)
    scorer = PaintScorer(names, lut, objects) if lut is not None and any(f.truth for f in frames) else None
    video = _LazyVideo(out / "painted_points.mp4", cfg.eval.video_fps) if cfg.paint.video else None
    split = "" if found.layout == "raw" else f"'s {cfg.paint.split} split"  # a recording has no split
    log.info(f"painting {len(frames)} frames of {LAYOUT_NAMES[found.layout]}{split} into {out}")
    try:
        records = _paint_frames(setup, frames, out, objects, scorer, video, log)
    finally:  # an error midway leaves the frames so far, a playable video of them, and no ffmpeg process behind
        setup.step.close()
        if video is not None:
            video.close()
    metrics = _summary(setup, found.layout, records, scorer)
    atomic_write_text(out / "paint_metrics.json", to_json(metrics))
    _log_summary(log, metrics, out)
    return metrics


def _paint_frames(setup, frames: list, out: Path, objects: list, scorer, video, log) -> list:
    """Predicts, paints, clusters and writes every frame; returns one record per frame for paint_metrics.json."""
    cfg, names, palette = setup.cfg, list(setup.labels.names), setup.labels.palette()
    records = []
    for batch in tqdm(_loader(setup, frames, log), desc="paint", dynamic_ncols=True):
        start = time.perf_counter()
        # The eval step: TTA, upsampling to the frame's size; the full probabilities come back for painting.
        predictions = setup.step(
            batch["image"], batch["original_size"].tolist(), reduce=lambda p: p.float(), clean=False
        )
        inference_ms = 1000 * (time.perf_counter() - start) / len(batch["name"])
        for k, name in enumerate(batch["name"]):
            frame = frames[int(batch["index"][k])]
            scores = predictions[k].extra
            scan = read_scan(frame.velodyne)
            with threadpool_limits(1):  # painting runs on one core; its CPU time is what a free core would take
                start = time.thread_time()
                painted = paint_scan(scan, scores, frame.calib)
                paint_ms = 1000 * (time.thread_time() - start)
            xyz = painted.points[:, :3]
            clusters = cluster_objects(xyz, painted.classes, objects, names, cfg.paint.eps, cfg.paint.min_samples)
            ground = ground_count(painted.classes, names)
            _write_frame(out, name, painted, clusters, ground, palette)
            if scorer is not None and frame.truth is not None:
                scorer.update(painted.index, xyz, painted.classes, read_point_labels(frame.truth, len(scan)), clusters)
            drawn = len(records) < cfg.paint.max_pictures or cfg.paint.max_pictures < 0
            if drawn or video is not None:
                camera = camera_picture(
                    read_rgb(frame.image), painted.pixels, painted.points[:, 0], palette[painted.classes]
                )
                if drawn:
                    save_rgb(out / "pictures" / f"{name}_points.png", camera)
                    save_rgb(
                        out / "pictures" / f"{name}_bev.png",
                        bev_picture(scan, painted.index, palette[painted.classes], clusters),
                    )
                if video is not None:
                    video.write(camera)
            records.append(
                {
                    "frame": name,
                    "points": len(scan),
                    "painted": len(painted.index),
                    "clusters": len(clusters),
                    "ground_points": ground,
                    "ms_painting": paint_ms,
                    "ms_inference": inference_ms,
                }
            )
    return records


def _write_frame(out: Path, name: str, painted, clusters: list, ground: int, palette: np.ndarray) -> None:
    """painted/<name>.bin, labels/<name>.label, ply/<name>.ply and clusters/<name>.json."""
    write_array(out / "painted" / f"{name}.bin", painted.points)
    write_array(out / "labels" / f"{name}.label", painted.classes.astype(np.uint32))
    write_ply(out / "ply" / f"{name}.ply", painted.points[:, :3], palette[painted.classes])
    record = {
        "frame": name,
        "ground_points": ground,
        "clusters": [{k: v for k, v in c.items() if k != "members"} for c in clusters],
    }
    (out / "clusters").mkdir(exist_ok=True)
    (out / "clusters" / f"{name}.json").write_text(json.dumps(record, indent=1))


def _summary(setup, layout: str, records: list, scorer) -> dict:
    paint_ms = [r["ms_painting"] for r in records]
    metrics = {
        "checkpoint": str(setup.checkpoint),
        "layout": layout,
        "split": None if layout == "raw" else setup.cfg.paint.split,
        "frames": len(records),
        "points": int(sum(r["points"] for r in records)),
        "painted_points": int(sum(r["painted"] for r in records)),
        "ms_per_frame": {
            "painting_median": float(np.median(paint_ms)),
            "painting_max": float(np.max(paint_ms)),
            "inference_median": float(np.median([r["ms_inference"] for r in records])),
        },
        "per_frame": records,
    }
    if scorer is not None:
        metrics.update(scorer.compute())
    return metrics


def _log_summary(log, m: dict, out: Path) -> None:
    t = m["ms_per_frame"]
    log.info(
        f"{m['frames']} frames, {m['points']:,} points, {m['painted_points']:,} painted (in front of the camera and "
        "inside the image)"
    )
    log.info(
        f"per frame: painting {t['painting_median']:.1f} ms (median CPU time on one core), inference "
        f"{t['inference_median']:.0f} ms (median wall time)"
    )
    if "point_accuracy" in m:
        lines = ["| class | point IoU |", "|---|---:|"] + [
            f"| {n} | {format_number(v['iou'])} |" for n, v in m["per_class"].items()
        ]
        log.info("painted labels against the true point labels:\n" + "\n".join(lines))
        found = (
            f"clusters found {m['objects_found']} of {m['objects']} objects (recall {m['cluster_recall']:.4f})"
            if m["objects"]
            else "no true object among the object classes"
        )
        log.info(f"point accuracy {m['point_accuracy']:.4f}, point mIoU {m['point_miou']:.4f}; {found}")
    log.info(f"painted/, labels/, ply/, clusters/, pictures/ and paint_metrics.json in {out}")


class _LazyVideo:
    """A VideoWriter opened at the first frame's size; later frames (KITTI sizes differ by a few pixels) are resized to it."""

    def __init__(self, path, fps: float):
        self.path, self.fps, self.writer = path, fps, None

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            self.writer = VideoWriter(self.path, (frame.shape[1], frame.shape[0]), self.fps)
        w, h = self.writer.even
        if frame.shape[:2] != (h, w):
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
