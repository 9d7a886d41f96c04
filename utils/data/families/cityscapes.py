"""Cityscapes: leftImg8bit/{split}/{city}/ with gtFine (or gtCoarse) label ids, and its label modes.

Label modes, built from cityscapesscripts' official label table: ``road`` (road / rest), ``categories``
(the 8 categoryIds, void kept as a class), ``classes`` (the 19 trainIds; void ignored, or a 20th class
``unlabeled``) and a list of label names (then ``rest``). BDD100K reuses the classes and categories.
"""

import difflib
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS
from cityscapesscripts.helpers.labels import name2label

from utils.config.errors import UserError
from utils.data.families.base import DatasetFamily, Item, orphan_files
from utils.data.families.label_files import read_single_channel
from utils.labels import IGNORE_INDEX, LabelSet

DOWNLOAD_HELP = (
    "Download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from "
    "https://www.cityscapes-dataset.com/downloads/ "
    "(free account), unzip both into one folder and set paths.root to it. It must hold "
    "leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png and "
    "gtFine/{train,val,test}/<city>/<same stem>_gtFine_labelIds.png. "
    "No dataset yet? Run the quickstart on the built-in sample: "
    "python -m utils.sample_data --out data/sample && python train.py --config_path configs/quickstart.yaml"
)

CATEGORY_NAMES = ["void", "flat", "construction", "object", "nature", "sky", "human", "vehicle"]
# A category is drawn in the colour of its most common label, so pictures read like Cityscapes'.
_CATEGORY_COLOR_LABEL = {
    "flat": "road",
    "construction": "building",
    "object": "traffic sign",
    "nature": "vegetation",
    "sky": "sky",
    "human": "person",
    "vehicle": "car",
}
REAL_LABELS = [lab for lab in CITYSCAPES_LABELS if lab.id >= 0]
LABEL_IDS = np.array(sorted({lab.id for lab in REAL_LABELS}), np.uint8)
TRAIN_LABELS = sorted((lab for lab in REAL_LABELS if lab.trainId not in (255, -1)), key=lambda lab: lab.trainId)
CITYSCAPES19 = tuple(lab.name for lab in TRAIN_LABELS)  # the 19 classes' names in train-id order
UNLABELED_ID = name2label["unlabeled"].id


def road_labels() -> LabelSet:
    lut = np.full(256, 1, np.uint8)
    lut[name2label["road"].id] = 0
    return LabelSet(("road", "rest"), (name2label["road"].color, (0, 0, 0)), lut)


def category_colors() -> list:
    return [(0, 0, 0)] + [name2label[_CATEGORY_COLOR_LABEL[c]].color for c in CATEGORY_NAMES[1:]]


def category_labels() -> LabelSet:
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for lab in REAL_LABELS:
        lut[lab.id] = lab.categoryId
    return LabelSet(tuple(CATEGORY_NAMES), tuple(category_colors()), lut, void_classes=(0,))


def class_labels(unlabeled_class: bool) -> LabelSet:
    lut = np.full(256, len(TRAIN_LABELS) if unlabeled_class else IGNORE_INDEX, np.uint8)
    for lab in TRAIN_LABELS:
        lut[lab.id] = lab.trainId
    names = [lab.name for lab in TRAIN_LABELS]
    colors = [lab.color for lab in TRAIN_LABELS]
    to_id = [lab.id for lab in TRAIN_LABELS]
    void = ()
    if unlabeled_class:
        names.append("unlabeled")
        colors.append((0, 0, 0))
        to_id.append(UNLABELED_ID)
        void = (len(TRAIN_LABELS),)
    # A pixel predicted as ignored is exported as 'unlabeled' (id 0), which the official evaluator skips.
    return LabelSet(tuple(names), tuple(colors), lut, tuple(to_id), void, ignore_value=UNLABELED_ID)


def listed_labels(names: list) -> LabelSet:
    valid = [lab.name for lab in REAL_LABELS]
    for name in names:
        if name not in valid:
            match = difflib.get_close_matches(name, valid, n=1)
            hint = f" Did you mean '{match[0]}'?" if match else f" Valid names: {', '.join(valid)}."
            raise UserError(f"Config key 'dataset.labels' lists '{name}', which is not a Cityscapes label name.{hint}")
    if len(set(names)) != len(names) or not names:
        raise UserError(f"Config key 'dataset.labels' must list each label name once, got {names}.")
    lut = np.full(256, len(names), np.uint8)
    for i, name in enumerate(names):
        lut[name2label[name].id] = i
    colors = [name2label[n].color for n in names] + [(0, 0, 0)]
    return LabelSet(tuple(names) + ("rest",), tuple(colors), lut, void_classes=(len(names),))


def _pairs(root: Path, image_split: str, gt: str, gt_split: str, cities=None, labelled: bool = True) -> list:
    folder = root / "leftImg8bit" / image_split
    if not folder.is_dir():
        raise UserError(f"Cityscapes folder '{folder}' does not exist (paths.root = '{root}'). {DOWNLOAD_HELP}")
    items = []
    for path in sorted(folder.glob("*/*_leftImg8bit.png")):
        city = path.parent.name
        if cities is not None and city not in cities:
            continue
        stem = path.name[: -len("_leftImg8bit.png")]
        label = root / gt / gt_split / city / f"{stem}_{gt}_labelIds.png" if labelled else None
        if label is not None and not label.is_file():
            raise UserError(
                f"Label file '{label}' for image '{path}' is missing. Unzip {gt}_trainvaltest.zip into paths.root."
            )
        items.append(Item(path, label, stem))
    return items


def cityscapes_items(root, split: str, val_cities=(), coarse: bool = False, labelled: bool = True) -> list:
    """Items of one split. ``val_cities`` moves those train cities into val (the original's split);
    ``coarse`` adds train_extra with gtCoarse to train."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"Dataset folder '{root}' (paths.root) does not exist. {DOWNLOAD_HELP}")
    val_cities = list(val_cities or [])
    if split == "train":
        train_cities = None
        if val_cities:
            present = {p.name for p in (root / "leftImg8bit" / "train").glob("*") if p.is_dir()}
            missing = sorted(set(val_cities) - present)
            if missing:
                raise UserError(
                    f"dataset.val_cities names {missing}, which are not train cities under "
                    f"'{root}/leftImg8bit/train'. Present: {sorted(present)}."
                )
            train_cities = present - set(val_cities)
        items = _pairs(root, "train", "gtFine", "train", train_cities, labelled)
        if coarse:
            items += _pairs(root, "train_extra", "gtCoarse", "train_extra", None, labelled)
    elif split == "val" and val_cities:
        items = _pairs(root, "train", "gtFine", "train", set(val_cities), labelled)
    elif split == "train_extra":  # the 19,998 images with coarse labels only (an unlabelled source, unlabeled.split)
        items = _pairs(root, "train_extra", "gtCoarse", "train_extra", None, labelled)
    else:
        items = _pairs(root, split, "gtFine", split, None, labelled and split != "test")
    if not items:
        raise UserError(
            f"No images matching <city>/*_leftImg8bit.png found for split '{split}' under '{root}/leftImg8bit'. "
            f"{DOWNLOAD_HELP}"
        )
    return items


class Cityscapes(DatasetFamily):
    name = "cityscapes"
    label_modes = ("categories", "road", "classes")
    download_help = DOWNLOAD_HELP
    splits = ("train", "val", "test", "train_extra")
    results = "cityscapes_label_ids"
    official_scorer = "cityscapes"

    def check_config(self) -> None:
        if isinstance(self.mode, list):
            listed_labels(self.mode)  # each name in the label table, once: checked before any work
        elif self.mode not in self.label_modes:
            raise UserError(
                f"Config key 'dataset.labels' is {self.mode!r}; allowed: road | categories | classes | a list of "
                "label names."
            )
        self.check_unused_keys()

    def build_labels(self) -> LabelSet:
        if isinstance(self.mode, list):
            return listed_labels(self.mode)
        if self.mode == "road":
            return road_labels()
        if self.mode == "classes":
            return class_labels(self.cfg.dataset.unlabeled_class)
        return category_labels()

    def split_items(self, split: str, labelled: bool) -> list:
        d = self.cfg.dataset
        return cityscapes_items(self.root, split, d.val_cities, d.coarse and split == "train", labelled)

    def read_label(self, path: Path) -> np.ndarray:
        return read_single_channel(path, "label ids")

    def known_values(self) -> np.ndarray:
        return LABEL_IDS

    def label_problem(self, codes: np.ndarray, path: Path):
        values = np.unique(codes)
        outside = np.setdiff1d(values, LABEL_IDS)
        listed = ", ".join(map(str, outside[:6].tolist())) + (", ..." if len(outside) > 6 else "")
        if len(outside) == len(values):
            return (
                f"every pixel of its label '{path}' is outside the Cityscapes label table (values {listed}; ids are "
                "0-33): is it a labelIds PNG?"
            )
        if len(outside):
            return f"its label '{path}' holds values outside the Cityscapes label table ({listed}; ids are 0-33)"
        return None

    def check_key(self) -> str:
        return self.name  # every label mode reads the same label ids

    def orphans(self, items: list) -> list:
        def has_image(label: Path) -> bool:
            gt, gt_split = label.parents[2].name, label.parents[1].name
            stem = label.name[: -len(f"_{gt}_labelIds.png")]
            return (self.root / "leftImg8bit" / gt_split / label.parent.name / f"{stem}_leftImg8bit.png").is_file()

        gt_dirs = {item.label.parent.parent for item in items if item.label is not None}
        return orphan_files(gt_dirs, "*/*_labelIds.png", has_image)

    def official_split(self):
        # dataset.val_cities validates on train cities, which the official evaluator (gtFine/val) never sees.
        return None if self.cfg.dataset.val_cities else "val"

    def to_cityscapes19(self) -> np.ndarray:
        return class_labels(unlabeled_class=False).lut  # label id -> train id

    def point_truth_table(self, labels: LabelSet):
        return labels.lut
