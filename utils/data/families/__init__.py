"""Dataset families: one module per dataset layout, and the registry ``target`` picks from.

A family holds what is specific to its dataset's data: the files of each split, reading and decoding its
labels, its label modes and their LabelSets, the data check's rules, orphan detection, the download
help, and, as declared values, which result encoding and which official scorer apply. Every other module
asks the family (``dataset_family(cfg)``) and never compares ``target`` to a name; evaluation writes and
scores results (utils/evaluation/results.py), the sample generator draws layouts (utils/sample_data/layouts).

Adding a family: one module with a :class:`~utils.data.families.base.DatasetFamily` subclass, and one
line in :data:`FAMILIES`.
"""

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.families.base import DatasetFamily, closest
from utils.data.families.bdd100k import Bdd100k
from utils.data.families.camvid import CamVid
from utils.data.families.cityscapes import Cityscapes
from utils.data.families.folder import Folder
from utils.data.families.kitti import Kitti
from utils.data.families.kitti_semantics import KittiSemantics
from utils.data.families.vistas import Vistas
from utils.labels import LabelSet

FAMILIES = {
    "cityscapes": Cityscapes,
    "kitti": Kitti,
    "bdd100k": Bdd100k,
    "vistas": Vistas,
    "folder": Folder,
    "kitti_semantics": KittiSemantics,
    "camvid": CamVid,
}


def family_class(target: str) -> type:
    """The family class registered as ``target``; an unknown name is a UserError listing the registered ones."""
    if target not in FAMILIES:
        raise UserError(
            f"Config key 'target' is {target!r}, which is not a dataset family.{closest(str(target), FAMILIES)} "
            f"Registered: {', '.join(FAMILIES)}."
        )
    return FAMILIES[target]


def dataset_family(cfg) -> DatasetFamily:
    """The family of ``cfg.target``, bound to the run's config; it checks its own keys (dataset.labels) here."""
    return family_class(cfg.target)(cfg)


def build_labels(target: str, labels=None, unlabeled_class: bool = False, root: str = ".") -> LabelSet:
    """The LabelSet of family ``target`` in label mode ``labels`` (null: the family's default), without a run.

    ``root`` is the dataset folder, for families whose classes are described there (vistas, folder).
    Runs get theirs from ``dataset_family(cfg).labels()``.
    """
    dataset = {"labels": labels, "unlabeled_class": unlabeled_class}
    return dataset_family(
        config_from_dict({"target": target, "paths": {"root": str(root)}, "dataset": dataset})
    ).labels()


__all__ = ["FAMILIES", "DatasetFamily", "build_labels", "dataset_family", "family_class"]
