"""BDD100K semantic segmentation (the 10K images): JPEG frames and single-channel PNGs of the 19 Cityscapes train ids.

Layout (``paths.root`` holds ``bdd100k/`` or is it)::

    bdd100k/images/10k/{train,val,test}/<name>.jpg
    bdd100k/labels/sem_seg/masks/{train,val}/<name>.png     train ids 0-18, 255 = ignore
    bdd100k/labels/sem_seg/colormaps/{train,val}/<name>.png the same train ids as palette PNGs (read without masks/)

Label modes: ``classes`` (the 19 Cityscapes classes with their colours) and ``categories`` (their seven
Cityscapes categories, flat to vehicle; BDD100K has no void class, its void pixels are 255). Eval's
``results/`` holds train ids like the labels it read: grey PNGs beside masks, palette PNGs beside colormaps.
"""

from pathlib import Path
from typing import Optional

import numpy as np
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS

from utils.data.families.base import DatasetFamily, orphan_files, paired_items
from utils.data.families.cityscapes import CATEGORY_NAMES, TRAIN_LABELS, category_colors, class_labels
from utils.data.families.label_files import read_palette_indices, read_single_channel
from utils.labels import IGNORE_INDEX, LabelSet

DOWNLOAD_HELP = (
    "Download the 10K images (bdd100k_images_10k.zip) and the semantic segmentation labels "
    "(bdd100k_sem_seg_labels_trainval.zip) "
    "as https://doc.bdd100k.com/download.html describes (free account), unzip both into one folder and set "
    "paths.root to the folder holding bdd100k/ (images/10k/{train,val,test}/<name>.jpg and "
    "labels/sem_seg/masks/{train,val}/<name>.png, or colormaps/ in place of masks/). "
    "No dataset yet? python -m utils.sample_data --out data/sample writes a BDD100K-layout sample in "
    "data/sample/bdd100k"
)
# Cityscapes label id -> train id (255 for void labels), what the masks hold for the sample's renders.
ID_TO_TRAIN = np.full(256, IGNORE_INDEX, np.uint8)
for _lab in CITYSCAPES_LABELS:
    if _lab.id >= 0 and _lab.trainId not in (255, -1):
        ID_TO_TRAIN[_lab.id] = _lab.trainId


def bdd_categories() -> LabelSet:
    """The Cityscapes categories of the 19 train classes: flat, construction, object, nature, sky, human, vehicle."""
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for lab in TRAIN_LABELS:
        lut[lab.trainId] = lab.categoryId - 1  # categoryId 0 is void, which no train class belongs to
    return LabelSet(tuple(CATEGORY_NAMES[1:]), tuple(category_colors()[1:]), lut)


class Bdd100k(DatasetFamily):
    name = "bdd100k"
    label_modes = ("classes", "categories")
    download_help = DOWNLOAD_HELP

    @property
    def base(self) -> Path:
        return self.root / "bdd100k" if (self.root / "bdd100k" / "images").is_dir() else self.root

    @property
    def label_kind(self) -> str:
        """``masks``, or ``colormaps`` where the release's masks/ folder is absent and colormaps/ is there."""
        sem_seg = self.base / "labels" / "sem_seg"
        return "colormaps" if not (sem_seg / "masks").is_dir() and (sem_seg / "colormaps").is_dir() else "masks"

    @property
    def results(self) -> str:
        return "palette_png" if self.label_kind == "colormaps" else "label_png"  # results/ like the labels read

    def build_labels(self) -> LabelSet:
        if self.mode == "categories":
            return bdd_categories()
        cs = class_labels(unlabeled_class=False)
        lut = np.full(256, IGNORE_INDEX, np.uint8)
        lut[: cs.num_classes] = np.arange(cs.num_classes)
        return LabelSet(cs.names, cs.colors, lut, tuple(range(cs.num_classes)))

    def split_items(self, split: str, labelled: bool) -> list:
        folder = self.base / "images" / "10k" / split
        masks = self.base / "labels" / "sem_seg" / self.label_kind / split
        images = sorted(p for p in folder.glob("*.jpg")) if folder.is_dir() else []
        return paired_items(
            images,
            folder,
            lambda image: masks / f"{image.stem}.png",
            labelled,
            f"Unzip bdd100k_sem_seg_labels_trainval.zip into paths.root. {DOWNLOAD_HELP}",
        )

    def read_label(self, path: Path) -> np.ndarray:
        if path.parent.parent.name == "colormaps":
            return read_palette_indices(
                path,
                "a palette PNG whose indices are train ids: re-download the colormaps, or use labels/sem_seg/masks/",
            )
        return read_single_channel(path, "train ids")

    def label_source(self) -> Optional[str]:
        if self.label_kind == "colormaps":
            return f"labels: {self.base / 'labels' / 'sem_seg' / 'colormaps'} (palette PNGs of train ids; no masks/)"
        return f"labels: {self.base / 'labels' / 'sem_seg' / 'masks'} (train-id masks)"

    def values_text(self) -> str:
        return "BDD100K's train ids"

    def orphans(self, items: list) -> list:
        def has_image(label: Path) -> bool:
            return (self.base / "images" / "10k" / label.parent.name / f"{label.stem}.jpg").is_file()

        return orphan_files({item.label.parent for item in items if item.label is not None}, "*.png", has_image)

    def to_cityscapes19(self) -> np.ndarray:
        lut = np.full(256, IGNORE_INDEX, np.uint8)
        lut[: len(TRAIN_LABELS)] = np.arange(len(TRAIN_LABELS))  # the masks hold the train ids themselves
        return lut

    def point_truth_table(self, labels: LabelSet):
        return labels.lut[ID_TO_TRAIN]
