"""The sample's Cityscapes: leftImg8bit/ with gtFine (label ids, instance ids, colours, polygons), gtCoarse
train_extra, all-void test labels as Cityscapes publishes them, and an unlabelled demoVideo/ sequence."""

import json
from pathlib import Path

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import id2label

from utils.sample_data.street import make_street, render
from utils.visualize import save_gray, save_rgb

# Label id -> RGB colour, the way cityscapesscripts' json2labelImg colours a gtFine_color.png.
_COLOR_LUT = np.zeros((256, 3), np.uint8)
for _id, _label in id2label.items():
    if _id >= 0:
        _COLOR_LUT[_id] = _label.color


def jobs(out: Path, spec, seed) -> list:
    out_jobs = []
    for split, cities in (("train", spec.train_cities), ("val", spec.val_cities), ("test", spec.test_cities)):
        for city, count in cities.items():
            out_jobs += [
                (write_cityscapes_frame, (out, split, city, i, 19, seed(split, city, i), spec.cityscapes_size))
                for i in range(count)
            ]
    for city, count in spec.coarse_cities.items():
        out_jobs += [
            (
                write_cityscapes_frame,
                (out, "train_extra", city, i, 19, seed("extra", city, i), spec.cityscapes_size, "gtCoarse"),
            )
            for i in range(count)
        ]
    if spec.video_frames:
        out_jobs.append(
            (write_cityscapes_video, (out, "stuttgart_00", spec.video_frames, seed("video"), spec.cityscapes_size))
        )
    return out_jobs


def coarse_labels(label_ids: np.ndarray, margin: int = 3) -> np.ndarray:
    """Imitates gtCoarse: each region shrunk away from its borders, which become 'unlabeled' (0)."""
    k = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    same = cv2.erode(label_ids, k) == cv2.dilate(label_ids, k)
    return np.where(same, label_ids, 0).astype(np.uint8)


def write_cityscapes_frame(root: Path, split: str, city: str, seq: int, frame: int, rng, size, gt: str = "gtFine"):
    """One image in leftImg8bit/ plus, unless ``gt`` is None, its labelIds, instanceIds, color and polygons."""
    h, w = size
    street = make_street(rng, h, w, "cityscapes")
    canvas = render(street, h, w)
    stem = f"{city}_{seq:06d}_{frame:06d}"
    save_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", canvas.finish(*street["lighting"]))
    gt_dir = root / (gt or "gtFine") / split / city
    if gt == "gtFine" and split == "test":
        # Cityscapes publishes no test labels: its test gt files are all void.
        void = np.zeros((h, w), np.uint8)
        save_gray(gt_dir / f"{stem}_gtFine_labelIds.png", void)
        save_gray(gt_dir / f"{stem}_gtFine_instanceIds.png", void.astype(np.uint16))
        save_rgb(gt_dir / f"{stem}_gtFine_color.png", _COLOR_LUT[void])
        (gt_dir / f"{stem}_gtFine_polygons.json").write_text(json.dumps({"imgHeight": h, "imgWidth": w, "objects": []}))
    elif gt == "gtFine":
        save_gray(gt_dir / f"{stem}_gtFine_labelIds.png", canvas.label_ids)
        save_gray(gt_dir / f"{stem}_gtFine_instanceIds.png", canvas.instance_ids.astype(np.uint16))
        save_rgb(gt_dir / f"{stem}_gtFine_color.png", _COLOR_LUT[canvas.label_ids])
        polygons = {"imgHeight": h, "imgWidth": w, "objects": canvas.objects}
        (gt_dir / f"{stem}_gtFine_polygons.json").write_text(json.dumps(polygons))
    elif gt == "gtCoarse":
        coarse = coarse_labels(canvas.label_ids)
        save_gray(gt_dir / f"{stem}_gtCoarse_labelIds.png", coarse)
        save_rgb(gt_dir / f"{stem}_gtCoarse_color.png", _COLOR_LUT[coarse])


def write_cityscapes_video(root: Path, city: str, frames: int, rng, size) -> None:
    """An ordered, unlabelled frame sequence in leftImg8bit/demoVideo/, the camera driving forward."""
    h, w = size
    street = make_street(rng, h, w, "cityscapes")
    for t in range(frames):
        canvas = render(street, h, w, frame=t)
        save_rgb(
            root / "leftImg8bit" / "demoVideo" / city / f"{city}_000000_{t:06d}_leftImg8bit.png",
            canvas.finish(*street["lighting"]),
        )
