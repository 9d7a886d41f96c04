"""A team's own data in a generic folder layout, its classes described by ``classes.yaml``.

Layout (``paths.root``)::

    classes.yaml
    images/<split>/**/<name>.{png,jpg,jpeg}
    labels/<split>/**/<name>.png          the same relative path, single-channel 8-bit values

``classes.yaml``::

    ignore: [0]            # label pixel values that count for nothing
    classes:               # in class-index order
      - {name: drivable, value: 10, color: [128, 64, 128]}   # color optional
      - {name: agent, value: 50, maps_to: person}           # maps_to optional

``maps_to`` names the Cityscapes class (one of the 19 train classes, e.g. ``road``, ``traffic sign``) a class
corresponds to; absent or null, it has none and is ignored there. With it, the folder's labels join the 19 Cityscapes
classes (:meth:`Folder.to_cityscapes19`): a Cityscapes-trained model is scored on them, and they can be a training
source beside Cityscapes. The only label mode is ``classes``: the classes of classes.yaml. A label value that is neither a class's
value nor ignored is a bad file in the data check. Eval's ``results/`` holds the classes' values.
"""

import colorsys
from pathlib import Path

import numpy as np
import yaml

from utils.config.errors import UserError
from utils.data.families.base import (
    IMAGE_SUFFIXES,
    DatasetFamily,
    MissingDescription,
    closest,
    images_under,
    orphan_files,
    paired_items,
)
from utils.data.families.cityscapes import CITYSCAPES19
from utils.labels import IGNORE_INDEX, LabelSet

FORMAT = (
    "expected e.g. 'ignore: [0]' and 'classes: [{name: drivable, value: 10, color: [128, 64, 128]}, {name: agent, "
    "value: 50}]' (values 0-255, color and maps_to optional)"
)
DOWNLOAD_HELP = (
    "Put your images in paths.root/images/<split>/ (any subfolders; .png or .jpg), each label at the same relative "
    "path under "
    "paths.root/labels/<split>/ as a single-channel 8-bit .png, and describe the label values in "
    "paths.root/classes.yaml. "
    "An example: python -m utils.sample_data --out data/sample writes one in data/sample/folder"
)
ENTRY_KEYS = ("name", "value", "color", "maps_to")


def default_color(index: int) -> tuple:
    """Well-separated hues for classes without a colour (golden-ratio steps round the hue circle)."""
    r, g, b = colorsys.hsv_to_rgb((0.61803398875 * index) % 1.0, 0.65, 0.95)
    return (round(255 * r), round(255 * g), round(255 * b))


def _value(raw, where: str, path: Path) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 255:
        raise UserError(f"{path}: {where} is {raw!r}; it must be a label pixel value 0-255; {FORMAT}.")
    return raw


def _maps_to(entry: dict, i: int, path: Path):
    """A class's ``maps_to``: one of the 19 Cityscapes class names, or None."""
    target = entry.get("maps_to")
    if target is None or target in CITYSCAPES19:
        return target
    hint = closest(str(target), CITYSCAPES19) or f" The 19 are: {', '.join(CITYSCAPES19)}."
    raise UserError(
        f"{path}: classes[{i}] ('{entry['name']}') has maps_to {target!r}, which is not one of the 19 Cityscapes "
        f"classes.{hint} Leave maps_to out (or null) for a class without a counterpart."
    )


def read_classes_yaml(path: Path) -> tuple:
    """(names, values, colors, ignore values, maps_to) from ``classes.yaml``; each mistake is one line showing the
    format. ``maps_to`` holds each class's Cityscapes class name or None."""
    if not path.is_file():
        raise MissingDescription(
            f"No '{path}': target folder reads its classes from paths.root/classes.yaml; {FORMAT}."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}); {FORMAT}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list) or not data["classes"]:
        raise UserError(f"{path} must be a mapping with a non-empty list 'classes'; {FORMAT}.")
    unknown = sorted(set(data) - {"classes", "ignore"})
    if unknown:
        raise UserError(f"{path} has unknown key(s) {unknown}; it takes classes and ignore; {FORMAT}.")
    ignore = data.get("ignore")
    ignore = [] if ignore is None else ignore
    if not isinstance(ignore, list):
        raise UserError(f"{path}: ignore is {ignore!r}; it must be a list of label values; {FORMAT}.")
    ignore = [_value(v, f"ignore[{i}]", path) for i, v in enumerate(ignore)]
    if len(data["classes"]) > IGNORE_INDEX:
        raise UserError(f"{path} lists {len(data['classes'])} classes; at most 255 fit an 8-bit class map.")
    names, values, colors, maps_to = [], [], [], []
    for i, entry in enumerate(data["classes"]):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("name"), str)
            or "value" not in entry
            or set(entry) - set(ENTRY_KEYS)
        ):
            raise UserError(
                f"{path}: classes[{i}] is {entry!r}; each class is a mapping of name, value and optional color and "
                "maps_to; "
                f"{FORMAT}."
            )
        name, value = entry["name"], _value(entry["value"], f"classes[{i}].value", path)
        if name in names:
            raise UserError(
                f"{path}: the class name '{name}' appears twice (classes[{names.index(name)}] and classes[{i}]); each "
                f"class once; {FORMAT}."
            )
        if value in values or value in ignore:
            other = f"classes[{values.index(value)}]" if value in values else "ignore"
            raise UserError(
                f"{path}: the value {value} of classes[{i}] ('{name}') is also in {other}; each value belongs to one "
                f"class or to ignore; {FORMAT}."
            )
        color = entry.get("color")
        if color is None:
            color = default_color(i)
        elif (
            not isinstance(color, list)
            or len(color) != 3
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
        ):
            raise UserError(f"{path}: classes[{i}].color is {color!r}; it must be [R, G, B] with 0-255 each; {FORMAT}.")
        names.append(name)
        values.append(value)
        colors.append(tuple(color))
        maps_to.append(_maps_to(entry, i, path))
    return names, values, colors, ignore, maps_to


class Folder(DatasetFamily):
    name = "folder"
    label_modes = ("classes",)
    download_help = DOWNLOAD_HELP
    cityscapes19_via = "through classes.yaml's maps_to"

    def build_labels(self) -> LabelSet:
        if not self.root.is_dir():
            raise MissingDescription(f"Dataset folder '{self.root}' (paths.root) does not exist. {DOWNLOAD_HELP}")
        names, values, colors, ignore, self.maps_to = read_classes_yaml(self.root / "classes.yaml")
        lut = np.full(256, IGNORE_INDEX, np.uint8)
        lut[values] = np.arange(len(values))
        self.ignore = ignore
        # What results/ holds where DropClusters dropped a pixel: an ignored value, else one no class has.
        ignore_value = ignore[0] if ignore else max(set(range(256)) - set(values))
        return LabelSet(tuple(names), tuple(colors), lut, tuple(values), ignore_value=ignore_value)

    def split_items(self, split: str, labelled: bool) -> list:
        folder = self.root / "images" / split
        images = images_under(folder) if folder.is_dir() else []
        labels = self.root / "labels" / split
        return paired_items(
            images,
            self.root / "images",
            lambda image: (labels / image.relative_to(folder)).with_suffix(".png"),
            labelled,
            f"Each image needs its label at the same relative path under {labels}.",
        )

    def to_cityscapes19(self):
        """Label value -> Cityscapes train id by each class's ``maps_to``; None when no class has one."""
        self.labels()
        if not any(self.maps_to):
            return None
        lut = np.full(256, IGNORE_INDEX, np.uint8)
        for value, target in zip(self.labels().to_label_id, self.maps_to):
            if target is not None:
                lut[value] = CITYSCAPES19.index(target)
        return lut

    def has_labels(self, split: str) -> bool:
        # A team's held-out set is labelled like val when labels/test/ is there; without it, test is predicted.
        return split != "test" or (self.root / "labels" / "test").is_dir()

    def known_values(self) -> np.ndarray:
        labels = self.labels()
        return np.array(sorted(set(labels.to_label_id) | set(self.ignore)), np.uint8)

    def values_text(self) -> str:
        return f"the classes and ignore values of {self.root / 'classes.yaml'}"

    def check_key(self) -> str:
        return f"{self.name}|{self.known_values().tolist()}"

    def orphans(self, items: list) -> list:
        def has_image(label: Path) -> bool:
            split = next(p for p in label.parents if p.parent == self.root / "labels")
            folder = self.root / "images" / split.name / label.parent.relative_to(split)
            return any(
                (folder / (label.stem + s)).is_file() for s in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES)
            )

        folders = {
            next(p for p in item.label.parents if p.parent == self.root / "labels")
            for item in items
            if item.label is not None
        }
        return orphan_files(folders, "**/*.png", has_image)
