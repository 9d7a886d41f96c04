"""Label modes: which classes a run trains on, built from cityscapesscripts' official label table.

A :class:`LabelSet` maps dataset label ids to training class indices with a 256-entry lookup table
(:data:`IGNORE_INDEX` marks pixels that count for nothing), and carries names and colours for
pictures and the reverse mapping for official-format exports.
"""

import difflib
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS
from cityscapesscripts.helpers.labels import name2label

from utils.config.errors import UserError

IGNORE_INDEX = 255

CATEGORY_NAMES = ["void", "flat", "construction", "object", "nature", "sky", "human", "vehicle"]
# A category is drawn in the colour of its most common label, so pictures read like Cityscapes'.
_CATEGORY_COLOR_LABEL = {"flat": "road", "construction": "building", "object": "traffic sign", "nature": "vegetation", "sky": "sky", "human": "person", "vehicle": "car"}


@dataclass(frozen=True)
class LabelSet:
    """The classes of one run.

    Attributes:
        names: class names, index = class index.
        colors: RGB colour per class.
        lut: (256,) uint8; label id (or KITTI code) -> class index or IGNORE_INDEX.
        to_label_id: class index -> Cityscapes label id for official exports, or None when the
            mode has no such mapping.
        void_classes: class indices the official evaluator would not score (void, unlabeled).
    """

    names: tuple
    colors: tuple
    lut: np.ndarray
    to_label_id: Optional[tuple] = None
    void_classes: tuple = ()

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 colour table indexed by class index; IGNORE_INDEX is drawn black."""
        table = np.zeros((256, 3), np.uint8)
        table[: self.num_classes] = np.asarray(self.colors, np.uint8)
        return table

    def encode(self, label_ids: np.ndarray) -> np.ndarray:
        """(H, W) uint8 label ids -> (H, W) uint8 class indices."""
        return self.lut[label_ids]


def _real_labels():
    return [lab for lab in CITYSCAPES_LABELS if lab.id >= 0]


def _road() -> LabelSet:
    lut = np.full(256, 1, np.uint8)
    lut[name2label["road"].id] = 0
    return LabelSet(("road", "rest"), (name2label["road"].color, (0, 0, 0)), lut)


def _categories() -> LabelSet:
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for lab in _real_labels():
        lut[lab.id] = lab.categoryId
    colors = [(0, 0, 0)] + [name2label[_CATEGORY_COLOR_LABEL[c]].color for c in CATEGORY_NAMES[1:]]
    return LabelSet(tuple(CATEGORY_NAMES), tuple(colors), lut, void_classes=(0,))


def _classes(unlabeled_class: bool) -> LabelSet:
    train = sorted((lab for lab in _real_labels() if lab.trainId not in (255, -1)), key=lambda lab: lab.trainId)
    lut = np.full(256, len(train) if unlabeled_class else IGNORE_INDEX, np.uint8)
    for lab in train:
        lut[lab.id] = lab.trainId
    names = [lab.name for lab in train]
    colors = [lab.color for lab in train]
    to_id = [lab.id for lab in train]
    void = ()
    if unlabeled_class:
        names.append("unlabeled")
        colors.append((0, 0, 0))
        to_id.append(name2label["unlabeled"].id)
        void = (len(train),)
    return LabelSet(tuple(names), tuple(colors), lut, tuple(to_id), void)


def _custom(names: list) -> LabelSet:
    valid = [lab.name for lab in _real_labels()]
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


def _kitti(mode: str) -> LabelSet:
    # KITTI gt is decoded to 0 (road or lane), 1 (not road) and IGNORE_INDEX before the lookup.
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    lut[0], lut[1] = 0, 1
    return LabelSet((mode, "rest"), ((128, 64, 128) if mode == "road" else (255, 0, 255), (0, 0, 0)), lut)


def build_labels(target: str, labels: Union[str, list], unlabeled_class: bool = False) -> LabelSet:
    """The LabelSet for a config's ``target`` and ``dataset.labels`` (see the README's label modes)."""
    if target == "kitti":
        return _kitti(labels)
    if isinstance(labels, list):
        return _custom(labels)
    if labels == "road":
        return _road()
    if labels == "categories":
        return _categories()
    if labels == "classes":
        return _classes(unlabeled_class)
    raise UserError(f"Config key 'dataset.labels' is {labels!r}; allowed: road | categories | classes | a list of label names.")
