"""KITTI semantics (data_semantics): 200 labelled frames in Cityscapes label ids, and KITTI's unlabelled test frames.

Layout (``paths.root`` holds ``training/`` and ``testing/``, or a ``data_semantics/`` folder that does)::

    training/image_2/<6 digits>_10.png       about 375x1242 RGB
    training/semantic/<same name>.png        Cityscapes label ids (semantic_rgb/ and instance/ are not read)
    testing/image_2/<6 digits>_10.png        no labels

The labels are Cityscapes', so the label modes are Cityscapes' own (``classes``, the default here, as the benchmark
scores the 19 classes; ``categories``; ``road``; a list of label names; ``unlabeled_class`` too). There is no
official val split: a fixed, seeded ``dataset.val_fraction`` of training/ is val; ``all`` is the whole of training/.
Eval's ``results/`` holds Cityscapes label ids at the ground truth's resolution, one PNG named like each input frame:
the benchmark's submission format.
"""

from pathlib import Path

from utils.data.families.base import held_out_split, orphan_files, paired_items
from utils.data.families.cityscapes import Cityscapes

DOWNLOAD_HELP = (
    "Download data_semantics.zip from https://www.cvlibs.net/datasets/kitti/eval_semseg.php?benchmark=semantics2015, "
    "unzip it and set paths.root to the folder holding training/ (image_2/<6 digits>_10.png and semantic/, label ids) "
    "and testing/image_2/. "
    "No dataset yet? python -m utils.sample_data --out data/sample writes a KITTI-semantics sample in "
    "data/sample/kitti_semantics"
)
SPLIT_FOLDERS = {"train": "training", "val": "training", "all": "training", "test": "testing"}


class KittiSemantics(Cityscapes):
    """Cityscapes' label ids in KITTI's frames: the labels, data-check rules and mapping are Cityscapes'."""

    name = "kitti_semantics"
    label_modes = ("classes", "categories", "road")
    download_help = DOWNLOAD_HELP
    splits = ("train", "val", "test")
    all_is_train_and_val = False  # all is the whole of training/ in file order
    results = "label_png"
    official_scorer = None  # the benchmark's server scores the test split; there is no local evaluator

    @property
    def base(self) -> Path:
        nested = self.root / "data_semantics"
        return nested if (nested / "training").is_dir() else self.root

    def split_items(self, split: str, labelled: bool) -> list:
        folder = self.base / SPLIT_FOLDERS[split] / "image_2"
        images = sorted(folder.glob("*.png")) if folder.is_dir() else []
        semantic = self.base / "training" / "semantic"
        items = paired_items(
            images,
            folder,
            lambda image: semantic / image.name,
            labelled,
            f"data_semantics.zip holds it in training/semantic/. {DOWNLOAD_HELP}",
        )
        if split in ("all", "test") or not items:
            return items
        return held_out_split(items, split, self.cfg.dataset.val_fraction, f"KITTI-semantics images in '{folder}'")

    def orphans(self, items: list) -> list:
        def has_image(label: Path) -> bool:
            return (label.parent.parent / "image_2" / label.name).is_file()

        return orphan_files({item.label.parent for item in items if item.label is not None}, "*.png", has_image)

    def official_split(self):
        return None
