"""Dataset families: one module per dataset layout, and the registry ``target`` picks from.

A family owns everything specific to its dataset: the files of each split, reading and decoding its
labels, its label modes and their LabelSets, the data check's rules, orphan detection, the download
help, how eval writes results in its own encoding, and its part of the built-in sample. Every other
module asks the family (``dataset_family(cfg)``) and never compares ``target`` to a name.

Adding a family: one module with a :class:`~utils.data.families.base.DatasetFamily` subclass, and one
line in :data:`FAMILIES`.
"""

from utils.config.errors import UserError
from utils.data.families.base import DatasetFamily, closest
from utils.data.families.bdd100k import Bdd100k
from utils.data.families.cityscapes import Cityscapes
from utils.data.families.folder import Folder
from utils.data.families.kitti import Kitti
from utils.data.families.vistas import Vistas

FAMILIES = {
    "cityscapes": Cityscapes,
    "kitti": Kitti,
    "bdd100k": Bdd100k,
    "vistas": Vistas,
    "folder": Folder,
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


__all__ = ["FAMILIES", "DatasetFamily", "dataset_family", "family_class"]
