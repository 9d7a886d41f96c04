"""Mapillary Vistas: street-level JPEGs of many sizes, 8-bit palette PNGs of config indices, classes from the release's config.

Layout (``paths.root``)::

    config_v2.0.json, config_v1.2.json                  {"labels": [{name, readable, color, instances, evaluate}, ...]}
    {training,validation,testing}/images/<key>.jpg
    {training,validation}/{v2.0,v1.2}/labels/<key>.png   pixel value = index into the config's labels

Older releases (v1.0, v1.1) have ``config.json`` and ``{split}/labels/``; ``dataset.labels: v1.2`` reads
those when no ``config_v1.2.json`` is there. Classes, colours and the void classes (``"evaluate": false``,
left out of ``miou_no_void``, as Vistas' evaluation does) come from the config file. Eval's ``results/``
holds config indices in palette PNGs, like the labels (255, outside the config, where DropClusters' fill ignore dropped a pixel).

Into the 19 Cityscapes classes (:meth:`Vistas.to_cityscapes19`) each config label goes by its name through the
project's table (vistas_to_cityscapes.py, documented in docs/datasets.md); a name the table lacks is ignored.
"""

import json
from pathlib import Path

import numpy as np

from utils.config.errors import UserError
from utils.data.families.base import DatasetFamily, MissingDescription, orphan_files, paired_items
from utils.data.families.cityscapes import TRAIN_LABELS
from utils.data.families.label_files import read_palette_indices
from utils.data.families.vistas_to_cityscapes import cityscapes_class
from utils.labels import IGNORE_INDEX, LabelSet

DOWNLOAD_HELP = (
    "Download Mapillary Vistas (v2.0 holds v1.2 too) from https://www.mapillary.com/dataset/vistas (free account), "
    "unzip it and set "
    "paths.root to the folder holding config_v2.0.json and training/, validation/, testing/. "
    "No dataset yet? python -m utils.sample_data --out data/sample writes a Vistas-layout sample in data/sample/vistas"
)
SPLITS = {"train": "training", "val": "validation", "test": "testing"}


def read_vistas_config(path: Path) -> list:
    """The ``labels`` list of a Vistas config file; every way it can be unusable is a UserError naming it."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["labels"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"Vistas config '{path}' cannot be read as the release's JSON with a 'labels' list ({type(exc).__name__}: "
            f"{exc}). Re-download it."
        ) from None
    if not isinstance(entries, list) or not entries or len(entries) > IGNORE_INDEX:
        raise UserError(
            f"Vistas config '{path}' must list between 1 and 255 labels, got "
            f"{entries if not isinstance(entries, list) else len(entries)}."
        )
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or len(entry.get("color") or []) != 3:
            raise UserError(
                f"Vistas config '{path}': label {i} must be a mapping with a name and an [R, G, B] color, got "
                f"{entry!r}."
            )
    return entries


class Vistas(DatasetFamily):
    name = "vistas"
    label_modes = ("v2.0", "v1.2")
    download_help = DOWNLOAD_HELP
    results = "palette_png"
    cityscapes19_via = "through the project's table (docs/datasets.md)"

    def _config_path(self) -> Path:
        path = self.root / f"config_{self.mode}.json"
        if not path.is_file() and self.mode == "v1.2" and (self.root / "config.json").is_file():
            return self.root / "config.json"  # releases before v1.2
        return path

    def _labels_dir(self, split: str) -> Path:
        if self._config_path().name == "config.json":
            return self.root / SPLITS[split] / "labels"
        return self.root / SPLITS[split] / self.mode / "labels"

    def build_labels(self) -> LabelSet:
        if not self.root.is_dir():
            raise MissingDescription(f"Dataset folder '{self.root}' (paths.root) does not exist. {DOWNLOAD_HELP}")
        path = self._config_path()
        if not path.is_file():
            versions = {"config.json": "v1.2 (releases before v1.2)"}
            other = [
                f"{p.name} (dataset.labels: {versions.get(p.name, p.stem.removeprefix('config_'))})"
                for p in sorted(self.root.glob("config*.json"))
            ]
            hint = f" The folder has {', '.join(other)}." if other else f" {DOWNLOAD_HELP}"
            raise MissingDescription(f"No Vistas config '{path}' for dataset.labels: {self.mode}.{hint}")
        entries = read_vistas_config(path)
        n = len(entries)
        lut = np.full(256, IGNORE_INDEX, np.uint8)
        lut[:n] = np.arange(n)
        names = tuple(e["name"] for e in entries)
        void = tuple(i for i, e in enumerate(entries) if e.get("evaluate") is False)
        # A pixel predicted as ignored gets 255, an index outside the config: no class, as the metrics count it.
        return LabelSet(names, tuple(tuple(e["color"]) for e in entries), lut, tuple(range(n)), void)

    def split_items(self, split: str, labelled: bool) -> list:
        folder = self.root / SPLITS[split] / "images"
        images = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
        labels = self._labels_dir(split)
        return paired_items(
            images,
            folder,
            lambda image: labels / f"{image.stem}.png",
            labelled,
            f"Vistas keeps them in {labels.relative_to(self.root)}/. {DOWNLOAD_HELP}",
        )

    def read_label(self, path: Path) -> np.ndarray:
        return read_palette_indices(
            path, "an 8-bit palette PNG of config indices: use the release's labels/ folder, not a colour rendering"
        )

    def values_text(self) -> str:
        return f"the {self.labels().num_classes} labels of {self._config_path().name}"

    def check_key(self) -> str:
        return f"{self.name}|{self.mode}|{self.labels().num_classes}"

    def orphans(self, items: list) -> list:
        def has_image(label: Path) -> bool:
            split_dir = label.parents[2] if label.parent.parent.name == self.mode else label.parents[1]
            return (split_dir / "images" / f"{label.stem}.jpg").is_file()

        return orphan_files({item.label.parent for item in items if item.label is not None}, "*.png", has_image)

    def to_cityscapes19(self) -> np.ndarray:
        """Config index -> Cityscapes train id, by each label's name in the project's table (vistas_to_cityscapes.py)."""
        train_id = {lab.name: lab.trainId for lab in TRAIN_LABELS}
        lut = np.full(256, IGNORE_INDEX, np.uint8)
        for index, name in enumerate(self.labels().names):
            target = cityscapes_class(name)
            if target is not None:
                lut[index] = train_id[target]
        return lut
