"""How the classes of a checkpoint relate to the classes of a dataset family: the mapping eval scores through.

Four answers, tried in this order (:func:`relate`):

- ``same``: the checkpoint's class names are the dataset's, in the same order: nothing to map.
- ``predictions``: a table in this module maps each of the checkpoint's classes to one of the dataset's classes, or
  to none (many-to-one); the predicted probabilities of the classes that map to one dataset class are summed, as
  MSeg maps its universal taxonomy onto a test dataset's, and classes that map to none drop out. The 19 Cityscapes
  classes onto CamVid's 11; a Vistas model's classes onto the 19 Cityscapes classes through the project's table.
  Scores are in the dataset's classes, and results/ in its own encoding.
- ``ground_truth``: the checkpoint has the 19 Cityscapes classes and the family declares ``to_cityscapes19()``
  (Vistas through the project's table, BDD100K, Cityscapes in any label mode, a folder whose classes.yaml has
  ``maps_to``): the dataset's label values are mapped into the checkpoint's classes and scored there; values with
  no counterpart are ignored.
- none: :func:`relate` raises a UserError naming both class lists' sources and what would make it work.

Every table is keyed by class names, so a family (CamVid's, a Vistas release's) is recognised by its names.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from utils.config.errors import UserError
from utils.data.families.camvid import CLASSES as CAMVID_CLASSES
from utils.data.families.cityscapes import CITYSCAPES19
from utils.data.families.vistas_to_cityscapes import VISTAS_TO_CITYSCAPES
from utils.labels import IGNORE_INDEX, LabelSet

CAMVID11 = tuple(name for name, _ in CAMVID_CLASSES)

# The 19 Cityscapes classes scored on CamVid's 11 (None: no counterpart, its probability drops out).
CITYSCAPES19_TO_CAMVID11 = {
    "road": "Road",
    "sidewalk": "Pavement",
    "building": "Building",
    "wall": "Building",
    "fence": "Fence",
    "pole": "Pole",
    "traffic light": "SignSymbol",
    "traffic sign": "SignSymbol",
    "vegetation": "Tree",
    "terrain": "Tree",
    "sky": "Sky",
    "person": "Pedestrian",
    "rider": "Bicyclist",
    "car": "Car",
    "truck": "Car",
    "bus": "Car",
    "train": None,
    "motorcycle": "Bicyclist",
    "bicycle": "Bicyclist",
}


@dataclass(frozen=True)
class PredictionTable:
    """Checkpoint class name -> dataset class name or None, for checkpoints whose names ``matches`` accepts."""

    description: str
    table: dict
    target: tuple  # the dataset class names it maps onto (as a set: any order)
    exact_source: bool  # the checkpoint's names must be exactly the table's keys (else: any subset of them)

    def matches(self, source: tuple, target: tuple) -> bool:
        names_fit = (
            tuple(self.table) == source if self.exact_source else bool(source) and set(source) <= set(self.table)
        )
        return names_fit and set(target) == set(self.target) and len(target) == len(self.target)


PREDICTION_TABLES = (
    PredictionTable(
        "cityscapes19 -> camvid11: building + wall -> Building, vegetation + terrain -> Tree, traffic light + traffic "
        "sign -> SignSymbol, car + truck + bus -> Car, person -> Pedestrian, rider + bicycle + motorcycle -> "
        "Bicyclist, train ignored, the rest by name",
        CITYSCAPES19_TO_CAMVID11,
        CAMVID11,
        True,
    ),
    PredictionTable(
        "vistas -> cityscapes19 through the project's table (docs/datasets.md)",
        {name: target for name, (target, _) in VISTAS_TO_CITYSCAPES.items()},
        CITYSCAPES19,
        False,
    ),
)
IDENTITY19 = np.where(np.arange(256) < len(CITYSCAPES19), np.arange(256), IGNORE_INDEX).astype(np.uint8)
WHAT_MAPS = (
    "the same class names; the 19 Cityscapes classes scored on CamVid's 11; a Vistas model's classes on the 19 "
    "Cityscapes classes (dataset.labels: classes); the 19 Cityscapes classes on a dataset whose family maps its "
    "labels into them (cityscapes, bdd100k, vistas, and a folder dataset whose classes.yaml gives maps_to)"
)


@dataclass(frozen=True)
class ClassMapping:
    """The answer of :func:`relate`.

    Attributes:
        kind: ``same``, ``predictions`` or ``ground_truth``.
        description: one line for the log and metrics.json.
        labels: the classes scored: the dataset's (``same``, ``predictions``) or the checkpoint's (``ground_truth``,
            with ``lut`` from the dataset's label values and ``to_label_id`` the train ids).
        prediction_table: (C_checkpoint,) int64, checkpoint class -> scored class or -1 (``predictions`` only).
    """

    kind: str
    description: str
    labels: LabelSet
    prediction_table: Optional[np.ndarray] = None

    def to_dict(self, checkpoint_names) -> dict:
        return {
            "kind": self.kind,
            "description": self.description,
            "checkpoint_classes": list(checkpoint_names),
            "scored_classes": list(self.labels.names),
        }


def _preview(names) -> str:
    names = list(names)
    return ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")


def relate(
    model_labels: LabelSet,
    family,
    dataset_labels: LabelSet,
    model_source: str,
    data_source: str,
    model_from19: Optional[np.ndarray] = None,
):
    """How ``model_labels`` (a checkpoint's classes) relate to ``dataset_labels`` (``family``'s, in its label mode).

    ``model_source`` and ``data_source`` say where each class list comes from, for the refusal. ``model_from19``:
    for a checkpoint trained in a taxonomy file of its own (``dataset.taxonomy``), its table from the 19 Cityscapes
    train ids to its classes, so that any family that maps into the 19 scores it. Returns a :class:`ClassMapping`;
    no mapping is a UserError.
    """
    source, target = tuple(model_labels.names), tuple(dataset_labels.names)
    if source == target:
        return ClassMapping("same", f"same classes ({len(target)})", dataset_labels)
    for table in PREDICTION_TABLES:
        if table.matches(source, target):
            rows = np.array([target.index(t) if t is not None else -1 for t in map(table.table.get, source)])
            return ClassMapping("predictions", table.description, dataset_labels, rows)
    from19 = IDENTITY19 if source == CITYSCAPES19 else model_from19
    lut = family.to_cityscapes19() if from19 is not None else None
    if lut is not None:
        via = getattr(family, "cityscapes19_via", "by the family's to_cityscapes19()")
        scored = LabelSet(
            source, model_labels.colors, from19[np.asarray(lut, np.uint8)], tuple(range(len(source))), (), IGNORE_INDEX
        )
        into = "cityscapes19" if source == CITYSCAPES19 else "cityscapes19 -> the checkpoint's taxonomy"
        description = (
            f"{family.name} {family.mode} -> {into} {via}: the ground truth mapped into the checkpoint's "
            f"{len(source)} classes (labels with no counterpart ignored)"
        )
        return ClassMapping("ground_truth", description, scored)
    raise UserError(
        f"No mapping between the classes of {model_source} ({len(source)}: {_preview(source)}) and those of "
        f"{data_source} ({len(target)}: {_preview(target)}). The project maps {WHAT_MAPS}. Evaluate the checkpoint "
        "on a dataset of its own classes, or give the folder's classes.yaml maps_to."
    )
