"""What every dataset family provides, and the helpers most families share.

A family answers questions about its dataset and nothing else: the items of a split, how a label file decodes,
its label modes and their classes, the data check's rules, orphans, download help, and, as declared values,
which result encoding and which official scorer apply to it (evaluation owns writing and scoring them; the
sample generator owns drawing each layout). It is constructed from the run's Config and checks its own
config keys (``dataset.labels`` above all) right then, so a wrong value stops a run when it first asks for
items or labels, before any work.
"""

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from utils.config.errors import UserError
from utils.config.schema import DatasetConfig
from utils.data.families.label_files import read_single_channel, unknown_values_problem
from utils.labels import IGNORE_INDEX, LabelSet

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Item:
    """One image of a split: its file, its label file (None without labels) and the name its outputs take."""

    image: Path
    label: Optional[Path]
    name: str


class MissingDescription(UserError):
    """The files that describe a dataset's classes (Vistas' config, a folder's classes.yaml) are not there."""


class DatasetFamily:
    """One dataset layout: its splits' files, its label encoding, its data-check rules.

    Subclasses set the class attributes and implement :meth:`build_labels` and :meth:`split_items`; the
    other methods have defaults that suit a single-channel 8-bit label PNG per image.

    Attributes:
        name: the ``target`` that selects the family.
        label_modes: the ``dataset.labels`` values it takes; the first is the default (``null``).
        download_help: where the data comes from and how ``paths.root`` must look.
        splits: the splits it has besides ``all``.
        all_is_train_and_val: ``all`` (every labelled image) is train + val; False where :meth:`split_items`
            lists ``all`` itself (KITTI's whole training/, in the devkit's order).
        results: the encoding eval writes results in: ``label_png`` (single-channel label values, as the label
            files hold them), ``palette_png`` (the same values as a palette PNG), ``cityscapes_label_ids`` (the
            official evaluator's files) or ``kitti_road`` (the devkit's confidence PNGs); see
            utils/evaluation/results.py.
        official_scorer: the dataset's own evaluator that eval also runs (``cityscapes``), or None.
    """

    name = ""
    label_modes: tuple = ()
    download_help = ""
    splits = ("train", "val", "test")
    all_is_train_and_val = True
    results = "label_png"
    official_scorer = None

    def __init__(self, cfg):
        self.cfg = cfg
        self.root = Path(cfg.paths.root)
        self.mode = cfg.dataset.labels if cfg.dataset.labels is not None else self.label_modes[0]
        self.check_config()
        self._labels = None

    # -- config -------------------------------------------------------------------------------------------
    def check_config(self) -> None:
        """Raises a UserError naming the key when ``dataset.labels`` is not one of :attr:`label_modes`, or when
        a dataset key the schema declares for other families (``read_by``) is set."""
        if not isinstance(self.mode, str) or self.mode not in self.label_modes:
            modes = list(self.label_modes)
            allowed = modes[0] if len(modes) == 1 else f"{', '.join(modes[:-1])} or {modes[-1]}"
            raise UserError(
                f"Config key 'dataset.labels' is {self.mode!r}; with target {self.name} it must be {allowed}."
            )
        self.check_unused_keys()

    def check_unused_keys(self) -> None:
        """Refuses a dataset key the schema declares for other families (``read_by``) when it is not its default."""
        default = DatasetConfig()
        for f in dataclasses.fields(DatasetConfig):
            readers = f.metadata["read_by"]
            value = getattr(self.cfg.dataset, f.name)
            if readers and self.name not in readers and value != getattr(default, f.name):
                raise UserError(
                    f"Config key 'dataset.{f.name}' is {value!r}, but only target {' or '.join(readers)} reads it; "
                    f"with target {self.name} remove it (its default is {getattr(default, f.name)!r})."
                )

    # -- labels -------------------------------------------------------------------------------------------
    def labels(self) -> LabelSet:
        """The run's classes (built once)."""
        if self._labels is None:
            self._labels = self.build_labels()
        return self._labels

    def build_labels(self) -> LabelSet:
        raise NotImplementedError

    # -- files --------------------------------------------------------------------------------------------
    def items(self, split: str, labelled: bool = True) -> list:
        """Items of ``split``: train, val, test (labelled where :meth:`has_labels` says so) or all (every labelled
        image)."""
        if split == "all" and self.all_is_train_and_val:
            return self.items("train", labelled) + self.items("val", labelled)
        if split not in (*self.splits, "all"):
            raise UserError(f"{self.name} has no split '{split}'; it has {', '.join(self.splits)} and all.")
        self.check_root()
        items = self.split_items(split, labelled and self.has_labels(split))
        if not items:
            raise UserError(
                f"No {split} images found for target {self.name} under '{self.root}' (paths.root). {self.download_help}"
            )
        return items

    def has_labels(self, split: str) -> bool:
        """Whether the images of ``split`` come with label files, so that eval scores it and the data check reads
        them: every split but test, whose labels most benchmarks keep for their server. A family whose layout
        labels its test split (CamVid's testannot/, a folder dataset's labels/test/) says so here."""
        return split != "test"

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise UserError(f"Dataset folder '{self.root}' (paths.root) does not exist. {self.download_help}")

    def split_items(self, split: str, labelled: bool) -> list:
        raise NotImplementedError

    def read_label(self, path: Path) -> np.ndarray:
        """A label file -> (H, W) uint8 codes for ``labels().lut``; an unreadable one is a UserError."""
        return read_single_channel(path)

    def label_problem(self, codes: np.ndarray, path: Path) -> Optional[str]:
        """The data check's rule for one decoded label file: why it cannot be used, or None."""
        return unknown_values_problem(codes, path, self.known_values(), self.values_text())

    def known_values(self) -> np.ndarray:
        """Every label value a file may hold: those the lookup maps to a class, and the ignore value."""
        labels = self.labels()
        return np.union1d(np.nonzero(labels.lut != IGNORE_INDEX)[0], [labels.ignore_value]).astype(np.uint8)

    def values_text(self) -> str:
        return f"the {self.name} label values"

    def check_key(self) -> str:
        """What the data check's memory of passed files depends on besides the files (the allowed values)."""
        return f"{self.name}|{self.mode}"

    def orphans(self, items: list) -> list:
        """Label files in the folders ``items`` use whose image does not exist (they would be skipped silently)."""
        return []

    def label_source(self) -> Optional[str]:
        """A line for the data check's log saying which label files it reads, where a family reads one of several
        (BDD100K's masks or colormaps); None where there is no choice."""
        return None

    # -- evaluation and painting: questions about the data ---------------------------------------------
    def official_split(self):
        """The split :attr:`official_scorer` scores against (its ground truth lies there), or None."""
        return None

    def to_cityscapes19(self) -> Optional[np.ndarray]:
        """(256,) uint8 from this family's label values (whatever its label mode) to the 19 Cityscapes train ids
        (IGNORE_INDEX where a value has no counterpart), or None where the family declares no mapping.

        It is how a family's labels join another label space: several training sources in one taxonomy
        (``dataset.sources``) and a model scored on another dataset's classes (utils/data/taxonomy.py).
        """
        return None

    def point_truth_table(self, labels: LabelSet) -> Optional[np.ndarray]:
        """(256,) uint8 from Cityscapes label ids (the sample's true LiDAR point labels) to class index, or None."""
        return None

    def label_values(self, labels: LabelSet) -> Optional[tuple]:
        """One label value per class that this family's label files hold and decode back to that class, for label
        files written from predictions (eval's pseudo-labels); None where the files hold no value per pixel (KITTI's
        colour ground truth).

        The value eval's ``results/`` writes where the classes have one (``labels.to_label_id``); else, where a class
        merges several values (Cityscapes road and categories, BDD100K categories), the smallest value that
        ``labels.lut`` decodes to it: flat is road (7), vehicle is car (26), rest is unlabeled (0).
        """
        if labels.to_label_id is not None:
            return tuple(int(v) for v in labels.to_label_id)
        values = [np.flatnonzero(labels.lut == c) for c in range(labels.num_classes)]
        return None if any(len(v) == 0 for v in values) else tuple(int(v[0]) for v in values)


def images_under(folder: Path, suffixes=IMAGE_SUFFIXES) -> list:
    """Every image below ``folder`` (recursively), sorted, so an ordered frame folder stays ordered."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())


def paired_items(images: list, image_root: Path, label_of, labelled: bool, missing_help: str) -> list:
    """Items named by their path under ``image_root``; ``label_of(image)`` is its label file."""
    items = []
    for image in images:
        label = label_of(image) if labelled else None
        if label is not None and not label.is_file():
            raise UserError(f"Label file '{label}' for image '{image}' is missing. {missing_help}")
        items.append(Item(image, label, image.relative_to(image_root).with_suffix("").as_posix().replace("/", "__")))
    return unique_names(items, "share a label file and an output name")


def unique_names(items: list, what: str) -> list:
    """``items``, unless two have the same name (x.png beside x.jpg): their outputs would overwrite each other.

    ``what`` ends the error's sentence: what the two images would share."""
    names = {}
    for item in items:
        if item.name in names:
            raise UserError(
                f"Images '{names[item.name]}' and '{item.image}' have the same name apart from the suffix, so they "
                f"{what}. Rename or remove one."
            )
        names[item.name] = item.image
    return items


def orphan_files(label_dirs, pattern: str, has_image) -> list:
    """Files matching ``pattern`` under each folder of ``label_dirs`` for which ``has_image(label)`` is False."""
    return [
        label for folder in sorted(set(label_dirs)) for label in sorted(folder.glob(pattern)) if not has_image(label)
    ]


def held_out_split(items: list, split: str, val_fraction: float, what: str) -> list:
    """``split`` (train or val) of ``items``: a fixed, seeded ``val_fraction`` of them is val, the rest train.

    For datasets without an official val split (KITTI road, KITTI semantics); the draw depends only on the number
    of items, so the same files always split the same way. ``what`` names the images in the error.
    """
    if len(items) < 2:
        raise UserError(f"Found {len(items)} labelled {what}; at least 2 are needed to split train/val.")
    order = np.random.default_rng(0).permutation(len(items))
    n_val = min(len(items) - 1, max(1, round(val_fraction * len(items))))
    chosen = sorted(order[:n_val]) if split == "val" else sorted(order[n_val:])
    return [items[i] for i in chosen]


def closest(name: str, valid) -> str:
    match = difflib.get_close_matches(name, list(valid), n=1)
    return f" Did you mean '{match[0]}'?" if match else ""
