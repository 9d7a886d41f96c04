"""KITTI road (data_road): file lists and ground-truth decoding as the devkit reads them, and its label modes.

Label modes: ``road`` (road / rest) and ``lane`` (the ego lane of um / rest); black gt pixels (outside
the valid area) are ignored. Eval writes the devkit's confidence PNGs (utils/evaluation/kitti_results.py).
"""

from pathlib import Path

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import name2label

from utils.config.errors import UserError
from utils.data.families.base import DatasetFamily, Item, held_out_split, orphan_files
from utils.data.families.label_files import LabelFileError
from utils.data.kitti_layout import GT_NAME, NAME, data_road_base
from utils.labels import IGNORE_INDEX, LabelSet

DOWNLOAD_HELP = (
    "Download data_road.zip from https://www.cvlibs.net/datasets/kitti/eval_road.php, unzip it and set paths.root to "
    "the folder that holds data_road/ (training/image_2, training/gt_image_2, testing/image_2). "
    "No dataset yet? The built-in sample has a KITTI part: python -m utils.sample_data --out data/sample, then "
    "paths.root: data/sample/kitti"
)


def decode_kitti_gt(path: Path) -> np.ndarray:
    """Road gt PNG -> (H, W) uint8: 0 road (or lane), 1 not road, IGNORE_INDEX outside the valid area.

    Like the devkit, reads BGR and takes road = B > 0 and valid = R > 0.
    """
    gt = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if gt is None:
        raise LabelFileError(
            f"Cannot read KITTI ground truth '{path}': the file is missing or not a PNG.",
            "does not decode (empty, truncated or not a PNG)",
        )
    road, valid = gt[:, :, 0] > 0, gt[:, :, 2] > 0
    out = np.full(gt.shape[:2], IGNORE_INDEX, np.uint8)
    out[valid] = 1
    out[valid & road] = 0
    return out


def kitti_items(root, split: str, mode: str, val_fraction: float, labelled: bool = True) -> list:
    """Items of train, val (a fixed, seeded share of training/), all (the whole of training/, what the devkit's
    evaluateRoad.py scores) or test (testing/image_2, no labels)."""
    base = data_road_base(root)
    if base is None:
        raise UserError(f"No KITTI data_road layout under '{root}' (paths.root). {DOWNLOAD_HELP}")
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
            raise UserError(
                f"KITTI image '{path}' is not named like data_road's <um|umm|uu>_<index>.png, so its ground truth "
                f"cannot be found. Rename it or move it out of {path.parent}."
            )
        category, index = match.groups()
        label = base / "training" / "gt_image_2" / f"{category}_{mode}_{index}.png"
        if not label.is_file():
            raise UserError(f"Ground truth '{label}' for '{path}' is missing. {DOWNLOAD_HELP}")
        items.append(Item(path, label if labelled else None, path.stem))
    if split == "all":
        return items
    return held_out_split(items, split, val_fraction, f"KITTI images under '{base}'")


def orphan_kitti_labels(root, items: list) -> list:
    """Ground-truth files in gt_image_2 whose image_2 image does not exist (they would be skipped silently)."""

    def has_image(label: Path) -> bool:
        match = GT_NAME.fullmatch(label.stem)  # files named otherwise are not data_road's: not orphans either
        return match is None or (label.parent.parent / "image_2" / f"{match.group(1)}_{match.group(3)}.png").is_file()

    return orphan_files({item.label.parent for item in items if item.label is not None}, "*.png", has_image)


def kitti_labels(mode: str) -> LabelSet:
    # KITTI gt is decoded to 0 (road or lane), 1 (not road) and IGNORE_INDEX before the lookup.
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    lut[0], lut[1] = 0, 1
    return LabelSet((mode, "rest"), ((128, 64, 128) if mode == "road" else (255, 0, 255), (0, 0, 0)), lut)


class Kitti(DatasetFamily):
    name = "kitti"
    label_modes = ("road", "lane")
    download_help = DOWNLOAD_HELP
    all_is_train_and_val = False  # all is the whole of training/ in file order, as the devkit's evaluateRoad reads it
    results = "kitti_road"

    def build_labels(self) -> LabelSet:
        return kitti_labels(self.mode)

    def label_values(self, labels: LabelSet):
        return None  # the ground truth is a colour picture (magenta road, red rest), not a value per pixel

    def split_items(self, split: str, labelled: bool) -> list:
        return kitti_items(self.root, split, self.mode, self.cfg.dataset.val_fraction, labelled)

    def read_label(self, path: Path) -> np.ndarray:
        return decode_kitti_gt(path)

    def label_problem(self, codes: np.ndarray, path: Path):
        if (codes == IGNORE_INDEX).all():  # the devkit's valid area is R > 0
            return f"its ground truth '{path}' is black everywhere (outside the valid area): nothing to learn or score"
        return None

    def orphans(self, items: list) -> list:
        return orphan_kitti_labels(self.root, items)

    def point_truth_table(self, labels: LabelSet):
        if self.mode != "road":
            return None  # label ids cannot tell the ego lane
        lut = np.ones(256, np.uint8)
        lut[name2label["road"].id] = 0
        return lut
