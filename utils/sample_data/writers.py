"""Writes rendered streets: the file helpers every family's sample uses, and the Cityscapes and KITTI road (data_road) layouts."""

import json
from pathlib import Path

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import id2label, name2label

from utils.data.families.base import write_gray_png
from utils.data.kitti_calib import format_calib
from utils.sample_data.calib import sample_calib
from utils.sample_data.lidar import scan
from utils.sample_data.street import ground_lateral_x, make_street, render

# Label id -> RGB colour, the way cityscapesscripts' json2labelImg colours a gtFine_color.png.
_COLOR_LUT = np.zeros((256, 3), np.uint8)
for _id, _label in id2label.items():
    if _id >= 0:
        _COLOR_LUT[_id] = _label.color

KITTI_ROAD, KITTI_NOT_ROAD, KITTI_DONT_CARE = (255, 0, 255), (255, 0, 0), (0, 0, 0)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


write_gray = write_gray_png  # label ids, instance ids and masks, single-channel


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 90) -> None:
    """An RGB image as a JPEG, as BDD100K and Mapillary Vistas ship theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {path}")


def render_frame(rng, size, style: str = "cityscapes") -> tuple:
    """One street at ``size`` (H, W): (H, W, 3) uint8 RGB and (H, W) uint8 Cityscapes label ids."""
    street = make_street(rng, size[0], size[1], style)
    canvas = render(street, size[0], size[1])
    return canvas.finish(*street["lighting"]), canvas.label_ids


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
    write_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", canvas.finish(*street["lighting"]))
    gt_dir = root / (gt or "gtFine") / split / city
    if gt == "gtFine" and split == "test":
        # Cityscapes publishes no test labels: its test gt files are all void.
        void = np.zeros((h, w), np.uint8)
        write_gray(gt_dir / f"{stem}_gtFine_labelIds.png", void)
        write_gray(gt_dir / f"{stem}_gtFine_instanceIds.png", void.astype(np.uint16))
        write_rgb(gt_dir / f"{stem}_gtFine_color.png", _COLOR_LUT[void])
        (gt_dir / f"{stem}_gtFine_polygons.json").write_text(json.dumps({"imgHeight": h, "imgWidth": w, "objects": []}))
    elif gt == "gtFine":
        write_gray(gt_dir / f"{stem}_gtFine_labelIds.png", canvas.label_ids)
        write_gray(gt_dir / f"{stem}_gtFine_instanceIds.png", canvas.instance_ids.astype(np.uint16))
        write_rgb(gt_dir / f"{stem}_gtFine_color.png", _COLOR_LUT[canvas.label_ids])
        polygons = {"imgHeight": h, "imgWidth": w, "objects": canvas.objects}
        (gt_dir / f"{stem}_gtFine_polygons.json").write_text(json.dumps(polygons))
    elif gt == "gtCoarse":
        coarse = coarse_labels(canvas.label_ids)
        write_gray(gt_dir / f"{stem}_gtCoarse_labelIds.png", coarse)
        write_rgb(gt_dir / f"{stem}_gtCoarse_color.png", _COLOR_LUT[coarse])


def write_cityscapes_video(root: Path, city: str, frames: int, rng, size) -> None:
    """An ordered, unlabelled frame sequence in leftImg8bit/demoVideo/, the camera driving forward."""
    h, w = size
    street = make_street(rng, h, w, "cityscapes")
    for t in range(frames):
        canvas = render(street, h, w, frame=t)
        write_rgb(
            root / "leftImg8bit" / "demoVideo" / city / f"{city}_000000_{t:06d}_leftImg8bit.png",
            canvas.finish(*street["lighting"]),
        )


def kitti_gt(canvas, street, size, lane: bool) -> np.ndarray:
    """RGB gt as in data_road: magenta road (or ego lane), red elsewhere, black where it does not count."""
    h, w = size
    road = canvas.label_ids == name2label["road"].id
    if lane:
        x = ground_lateral_x(street, h, w)
        lo, hi = street["ego_lane"]
        road &= (x >= lo) & (x <= hi)
    gt = np.empty((h, w, 3), np.uint8)
    gt[:] = KITTI_NOT_ROAD
    gt[road] = KITTI_ROAD
    # The far road near the horizon is too small to label reliably; the devkit's black marks it "don't care".
    top = int(street["horizon"])
    gt[top : top + max(2, int(0.03 * h))] = KITTI_DONT_CARE
    return gt


def write_kitti_frame(root: Path, split: str, category: str, index: int, rng, size) -> None:
    """data_road/{split}/image_2/{category}_{index}.png, calib/ and velodyne/ (with the true point labels in
    velodyne_labels/), plus road (and um lane) gt for training."""
    street = make_street(rng, size[0], size[1], category)
    canvas = render(street, size[0], size[1])
    base = root / "data_road" / split
    write_rgb(base / "image_2" / f"{category}_{index:06d}.png", canvas.finish(*street["lighting"]))
    (base / "calib").mkdir(parents=True, exist_ok=True)
    (base / "calib" / f"{category}_{index:06d}.txt").write_text(
        format_calib(sample_calib(street["focal"], size[1] / 2, street["horizon"], street["camera_height"]))
    )
    points, point_labels = scan(street, np.random.default_rng(street["seed"] + 1))
    for folder, array in (("velodyne", points), ("velodyne_labels", point_labels)):
        (base / folder).mkdir(parents=True, exist_ok=True)
        array.tofile(base / folder / f"{category}_{index:06d}{'.bin' if folder == 'velodyne' else '.label'}")
    if split == "training":
        write_rgb(base / "gt_image_2" / f"{category}_road_{index:06d}.png", kitti_gt(canvas, street, size, lane=False))
        if category == "um":
            write_rgb(
                base / "gt_image_2" / f"{category}_lane_{index:06d}.png", kitti_gt(canvas, street, size, lane=True)
            )
