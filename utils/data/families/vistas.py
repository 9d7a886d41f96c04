"""Mapillary Vistas: street-level JPEGs of many sizes, 8-bit palette PNGs of config indices, classes from the release's config.

Layout (``paths.root``)::

    config_v2.0.json, config_v1.2.json                  {"labels": [{name, readable, color, instances, evaluate}, ...]}
    {training,validation,testing}/images/<key>.jpg
    {training,validation}/{v2.0,v1.2}/labels/<key>.png   pixel value = index into the config's labels

Older releases (v1.0, v1.1) have ``config.json`` and ``{split}/labels/``; ``dataset.labels: v1.2`` reads
those when no ``config_v1.2.json`` is there. Classes, colours and the void classes (``"evaluate": false``,
left out of ``miou_no_void``, as Vistas' evaluation does) come from the config file. Eval's ``results/``
holds config indices in palette PNGs, like the labels (255, outside the config, where DropClusters' fill ignore dropped a pixel).
"""

import json
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import name2label
from PIL import Image

from utils.config.errors import UserError
from utils.data.families.base import DatasetFamily, LabelFileError, MissingDescription, orphan_files, paired_items
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


def read_palette_png(path: Path) -> np.ndarray:
    """An 8-bit palette (or grey) PNG -> (H, W) uint8 indices; OpenCV would turn the palette into colours."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                reason = (
                    f"is a {image.mode} picture, not an 8-bit palette PNG of config indices: use the release's "
                    "labels/ folder, not a colour rendering"
                )
                raise LabelFileError(f"Label file '{path}' {reason}.", reason)
            return np.array(image)
    except OSError:
        raise LabelFileError(
            f"Cannot read label file '{path}': the file is missing or not a PNG.",
            "does not decode (empty, truncated or not a PNG)",
        ) from None


def write_palette_png(path: Path, indices: np.ndarray, colors) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    indices = np.ascontiguousarray(indices, np.uint8)
    image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(colors)] = np.asarray(colors, np.uint8)
    image.putpalette(palette.ravel().tolist())
    image.save(path, optimize=True)


class Vistas(DatasetFamily):
    name = "vistas"
    label_modes = ("v2.0", "v1.2")
    download_help = DOWNLOAD_HELP

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
        return read_palette_png(path)

    def values_text(self) -> str:
        return f"the {self.labels().num_classes} labels of {self._config_path().name}"

    def check_key(self) -> str:
        return f"{self.name}|{self.mode}|{self.labels().num_classes}"

    def orphans(self, items: list) -> list:
        def has_image(label: Path) -> bool:
            split_dir = label.parents[2] if label.parent.parent.name == self.mode else label.parents[1]
            return (split_dir / "images" / f"{label.stem}.jpg").is_file()

        return orphan_files({item.label.parent for item in items if item.label is not None}, "*.png", has_image)

    def write_result(self, path: Path, values: np.ndarray, labels: LabelSet) -> None:
        write_palette_png(path, values, labels.colors)

    @classmethod
    def sample_jobs(cls, out: Path, spec, seed) -> list:
        jobs = [(write_vistas_configs, (out,))]
        for split, count in spec.vistas_splits.items():
            sizes = spec.vistas_sizes
            jobs += [
                (write_vistas_frame, (out, split, i, seed("vistas", split, i), sizes[i % len(sizes)]))
                for i in range(count)
            ]
        return jobs


# The sample's classes, in the release's format and naming; the real configs hold 66 (v1.2) and 124 (v2.0).
# (name, readable, colour, instances, evaluate, the Cityscapes labels the sample's renderer draws for it)
_SAMPLE_V12 = [
    ("animal--bird", "Bird", [165, 42, 42], True, True, []),
    ("construction--flat--road", "Road", [128, 64, 128], False, True, ["road"]),
    ("construction--flat--sidewalk", "Sidewalk", [244, 35, 232], False, True, ["sidewalk"]),
    ("construction--structure--building", "Building", [70, 70, 70], False, True, ["building"]),
    ("human--person", "Person", [220, 20, 60], True, True, ["person"]),
    ("human--rider--bicyclist", "Bicyclist", [255, 0, 0], True, True, ["rider"]),
    ("nature--sky", "Sky", [70, 130, 180], False, True, ["sky"]),
    ("nature--terrain", "Terrain", [152, 251, 152], False, True, ["terrain"]),
    ("nature--vegetation", "Vegetation", [107, 142, 35], False, True, ["vegetation"]),
    ("object--support--pole", "Pole", [153, 153, 153], True, True, ["pole"]),
    ("object--traffic-light", "Traffic Light", [250, 170, 30], True, True, ["traffic light"]),
    ("object--traffic-sign--front", "Traffic Sign (Front)", [220, 220, 0], True, True, ["traffic sign"]),
    ("object--vehicle--bicycle", "Bicycle", [119, 11, 32], True, True, ["bicycle"]),
    ("object--vehicle--bus", "Bus", [0, 60, 100], True, True, ["bus"]),
    ("object--vehicle--car", "Car", [0, 0, 142], True, True, ["car"]),
    ("object--vehicle--on-rails", "On Rails", [0, 80, 100], True, True, ["train"]),
    ("object--vehicle--truck", "Truck", [0, 0, 70], True, True, ["truck"]),
    ("void--ego-vehicle", "Ego Vehicle", [120, 10, 10], False, False, ["ego vehicle"]),
    ("void--ground", "Ground", [81, 0, 81], False, True, ["ground"]),
    ("void--static", "Static", [111, 74, 0], False, True, ["static"]),
    ("void--unlabeled", "Unlabeled", [0, 0, 0], False, False, ["unlabeled", "rectification border"]),
]
# v2.0 splits some classes and adds others, so its indices differ from v1.2's.
_SAMPLE_V20 = sorted(
    _SAMPLE_V12[:-1]
    + [
        ("construction--flat--road-shoulder", "Road Shoulder", [110, 110, 110], False, True, []),
        ("marking--continuous--solid", "Lane Marking - Continuous (Solid)", [255, 255, 255], False, True, []),
        ("object--vehicle--vehicle-group", "Vehicle Group", [0, 0, 142], False, True, []),
    ]
) + [_SAMPLE_V12[-1]]
SAMPLE_CONFIGS = {"v1.2": _SAMPLE_V12, "v2.0": _SAMPLE_V20}


def _sample_lut(entries: list) -> np.ndarray:
    """Cityscapes label id -> index in ``entries``; labels the table does not list become its unlabeled class."""
    lut = np.full(256, len(entries) - 1, np.uint8)
    for i, entry in enumerate(entries):
        for label in entry[5]:
            lut[name2label[label].id] = i
    return lut


def write_vistas_configs(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for version, entries in SAMPLE_CONFIGS.items():
        labels = [
            {"color": c, "instances": inst, "readable": r, "name": n, "evaluate": ev}
            for n, r, c, inst, ev, _ in entries
        ]
        (root / f"config_{version}.json").write_text(
            json.dumps({"labels": labels, "version": version, "mapping": "public"}, indent=1)
        )


def write_vistas_frame(root: Path, split: str, index: int, rng, size) -> None:
    """One image as <split>/images/<key>.jpg and, for training and validation, its v1.2 and v2.0 labels."""
    from utils.sample_data.writers import render_frame, write_jpeg

    image, label_ids = render_frame(rng, size, "cityscapes")
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    key = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 22))  # Vistas' keys are 22 URL-safe characters
    folder = root / SPLITS[split]
    write_jpeg(folder / "images" / f"{key}.jpg", image)
    if split != "test":
        for version, entries in SAMPLE_CONFIGS.items():
            write_palette_png(
                folder / version / "labels" / f"{key}.png", _sample_lut(entries)[label_ids], [e[2] for e in entries]
            )
