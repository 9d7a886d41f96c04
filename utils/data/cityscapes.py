"""Cityscapes file lists in the official layout: leftImg8bit/{split}/{city}/ and gtFine (or gtCoarse)."""

from pathlib import Path

from utils.config.errors import UserError
from utils.data.segmentation import Item

DOWNLOAD_HELP = (
    "Download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from https://www.cityscapes-dataset.com/downloads/ "
    "(free account), unzip both into one folder and set paths.root to it. It must hold "
    "leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png and "
    "gtFine/{train,val,test}/<city>/<same stem>_gtFine_labelIds.png. "
    "No dataset yet? Run the quickstart on the built-in sample: "
    "python -m utils.sample_data --out data/sample && python train.py --config_path configs/quickstart.yaml"
)


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
            raise UserError(f"Label file '{label}' for image '{path}' is missing. Unzip {gt}_trainvaltest.zip into paths.root.")
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
                raise UserError(f"dataset.val_cities names {missing}, which are not train cities under '{root}/leftImg8bit/train'. Present: {sorted(present)}.")
            train_cities = present - set(val_cities)
        items = _pairs(root, "train", "gtFine", "train", train_cities, labelled)
        if coarse:
            items += _pairs(root, "train_extra", "gtCoarse", "train_extra", None, labelled)
    elif split == "val" and val_cities:
        items = _pairs(root, "train", "gtFine", "train", set(val_cities), labelled)
    else:
        items = _pairs(root, split, "gtFine", split, None, labelled and split != "test")
    if not items:
        raise UserError(f"No images matching <city>/*_leftImg8bit.png found for split '{split}' under '{root}/leftImg8bit'. {DOWNLOAD_HELP}")
    return items


def orphan_cityscapes_labels(root, items: list) -> list:
    """Label files in the label folders ``items`` use whose image does not exist (they would be skipped silently)."""
    root = Path(root)
    orphans = []
    for gt_dir in sorted({item.label.parent.parent for item in items if item.label is not None}):
        gt, gt_split = gt_dir.parent.name, gt_dir.name
        suffix = f"_{gt}_labelIds.png"
        for label in sorted(gt_dir.glob(f"*/*{suffix}")):
            image = root / "leftImg8bit" / gt_split / label.parent.name / f"{label.name[: -len(suffix)]}_leftImg8bit.png"
            if not image.is_file():
                orphans.append(label)
    return orphans
