"""KITTI road (data_road) file lists and ground-truth decoding, as the devkit reads them."""

import re
from pathlib import Path

import cv2
import numpy as np

from utils.config.errors import UserError
from utils.data.segmentation import Item
from utils.labels import IGNORE_INDEX

DOWNLOAD_HELP = (
    "Download data_road.zip from https://www.cvlibs.net/datasets/kitti/eval_road.php, unzip it and set paths.root to "
    "the folder that holds data_road/ (training/image_2, training/gt_image_2, testing/image_2). "
    "No dataset yet? The built-in sample has a KITTI part: python -m utils.sample_data --out data/sample, then paths.root: data/sample/kitti"
)


NAME = re.compile(r"(um|umm|uu)_(\d+)")
GT_NAME = re.compile(r"(um|umm|uu)_(road|lane)_(\d+)")


def decode_kitti_gt(path: Path) -> np.ndarray:
    """Road gt PNG -> (H, W) uint8: 0 road (or lane), 1 not road, IGNORE_INDEX outside the valid area.

    Like the devkit, reads BGR and takes road = B > 0 and valid = R > 0.
    """
    gt = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if gt is None:
        raise UserError(f"Cannot read KITTI ground truth '{path}'.")
    road, valid = gt[:, :, 0] > 0, gt[:, :, 2] > 0
    out = np.full(gt.shape[:2], IGNORE_INDEX, np.uint8)
    out[valid] = 1
    out[valid & road] = 0
    return out


def _data_road(root: Path) -> Path:
    for candidate in (root / "data_road", root):
        if (candidate / "training" / "image_2").is_dir():
            return candidate
    raise UserError(f"No KITTI data_road layout under '{root}' (paths.root). {DOWNLOAD_HELP}")


def kitti_items(root, split: str, mode: str, val_fraction: float, labelled: bool = True) -> list:
    """Items of train, val (a fixed, seeded share of training/), all (the whole of training/, what the devkit's
    evaluateRoad.py scores) or test (testing/image_2, no labels)."""
    base = _data_road(Path(root))
    if split == "test":
        images = sorted((base / "testing" / "image_2").glob("*.png"))
        if mode == "lane":
            images = [p for p in images if p.name.startswith("um_")]  # the ego-lane benchmark is um only
        if not images:
            raise UserError(f"No test images in '{base / 'testing' / 'image_2'}'. {DOWNLOAD_HELP}")
        return [Item(p, None, p.stem) for p in images]
    images = sorted((base / "training" / "image_2").glob("*.png"))
    if mode == "lane":
        images = [p for p in images if p.name.startswith("um_")]  # the ego-lane gt exists for um only
    items = []
    for path in images:
        match = NAME.fullmatch(path.stem)
        if match is None:
            raise UserError(f"KITTI image '{path}' is not named like data_road's <um|umm|uu>_<index>.png, so its ground truth cannot be found. Rename it or move it out of {path.parent}.")
        category, index = match.groups()
        label = base / "training" / "gt_image_2" / f"{category}_{mode}_{index}.png"
        if not label.is_file():
            raise UserError(f"Ground truth '{label}' for '{path}' is missing. {DOWNLOAD_HELP}")
        items.append(Item(path, label if labelled else None, path.stem))
    if split == "all":
        return items
    if len(items) < 2:
        raise UserError(f"Found {len(items)} labelled KITTI images under '{base}'; at least 2 are needed to split train/val.")
    order = np.random.default_rng(0).permutation(len(items))
    n_val = min(len(items) - 1, max(1, round(val_fraction * len(items))))
    chosen = sorted(order[:n_val]) if split == "val" else sorted(order[n_val:])
    return [items[i] for i in chosen]


def orphan_kitti_labels(root, items: list) -> list:
    """Ground-truth files in gt_image_2 whose image_2 image does not exist (they would be skipped silently)."""
    orphans = []
    for gt_dir in sorted({item.label.parent for item in items if item.label is not None}):
        for label in sorted(gt_dir.glob("*.png")):
            match = GT_NAME.fullmatch(label.stem)
            if match and not (gt_dir.parent / "image_2" / f"{match.group(1)}_{match.group(3)}.png").is_file():
                orphans.append(label)
    return orphans
