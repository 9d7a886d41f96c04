"""The classes of a run: :class:`LabelSet`, built by the run's dataset family (utils/data/families; without a run,
``utils.data.families.build_labels``).

A LabelSet maps a dataset's label values to training class indices with a 256-entry lookup table
(:data:`IGNORE_INDEX` marks pixels that count for nothing), and carries names and colours for
pictures and the reverse mapping for results in the dataset's own encoding.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

IGNORE_INDEX = 255


@dataclass(frozen=True)
class LabelSet:
    """The classes of one run.

    Attributes:
        names: class names, index = class index.
        colors: RGB colour per class.
        lut: (256,) uint8; label value (Cityscapes label id, KITTI code, BDD100K train id, Vistas config
            index, a folder dataset's value) -> class index or IGNORE_INDEX.
        to_label_id: class index -> the value the family's label files hold for it, for results in the
            family's own encoding (the official Cityscapes evaluator's label ids); None when a class has no
            single value (Cityscapes road and categories, KITTI).
        void_classes: class indices the dataset's own evaluation does not score (void, unlabeled).
        ignore_value: the label value written for a pixel predicted as ignored (DropClusters' fill ignore).
    """

    names: tuple
    colors: tuple
    lut: np.ndarray
    to_label_id: Optional[tuple] = None
    void_classes: tuple = ()
    ignore_value: int = IGNORE_INDEX

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 colour table indexed by class index; IGNORE_INDEX is drawn black."""
        table = np.zeros((256, 3), np.uint8)
        table[: self.num_classes] = np.asarray(self.colors, np.uint8)
        return table

    def encode(self, label_ids: np.ndarray) -> np.ndarray:
        """(H, W) uint8 label values -> (H, W) uint8 class indices."""
        return self.lut[label_ids]

    def to_dict(self) -> dict:
        """Plain lists and ints, for checkpoints (``torch.load(weights_only=True)``) and JSON."""
        return {
            "names": list(self.names),
            "colors": [list(c) for c in self.colors],
            "lut": self.lut.tolist(),
            "to_label_id": None if self.to_label_id is None else list(self.to_label_id),
            "void_classes": list(self.void_classes),
            "ignore_value": int(self.ignore_value),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LabelSet":
        to_id = data.get("to_label_id")
        return cls(
            tuple(data["names"]),
            tuple(tuple(c) for c in data["colors"]),
            np.asarray(data["lut"], np.uint8),
            None if to_id is None else tuple(to_id),
            tuple(data.get("void_classes", ())),
            int(data.get("ignore_value", IGNORE_INDEX)),
        )

    def value_table(self) -> np.ndarray:
        """(256,) uint8: class index -> label value, IGNORE_INDEX -> ``ignore_value`` (needs ``to_label_id``)."""
        table = np.full(256, self.ignore_value, np.uint8)
        table[: self.num_classes] = self.to_label_id
        return table
