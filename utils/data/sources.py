"""Several datasets trained into one label space: ``dataset.sources`` and ``dataset.taxonomy``.

Each source is a dataset family at its own root, seen through a config of its own (the run's config with that
source's ``target``, ``paths.root`` and ``dataset.labels``), so its files, label decoding, data check and prepared
cache are exactly the single-dataset ones. What is new is the label space: a source's label values reach the
taxonomy's classes through its family's ``to_cityscapes19()`` (utils/data/families; the Vistas table is documented
in docs/datasets.md), and with a taxonomy file of one's own from the 19 classes through each class's ``maps_to``
(utils/data/taxonomy_file.py).
The mixing of sources in a batch is utils/data/source_mix.py.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from utils.config.errors import UserError
from utils.config.schema import DatasetConfig
from utils.data.families import dataset_family, family_class
from utils.data.families.cityscapes import class_labels
from utils.data.taxonomy_file import read_taxonomy
from utils.labels import IGNORE_INDEX, LabelSet

DEFAULT_TAXONOMY = "cityscapes19"  # the 19 Cityscapes classes


@dataclass(frozen=True)
class Source:
    """One entry of ``dataset.sources``: its name, its own config, its weight, its classes in the taxonomy and its family.

    ``labels`` has the taxonomy's names and colours and this source's lookup from its label values to them.
    """

    name: str
    cfg: object
    weight: float
    labels: LabelSet
    family: object  # its DatasetFamily, bound to ``cfg``


def has_sources(cfg) -> bool:
    return bool(cfg.dataset.sources)


def taxonomy(cfg) -> tuple:
    """(LabelSet of the taxonomy's classes, (256,) uint8 from the 19 Cityscapes train ids to its class indices)."""
    if cfg.dataset.taxonomy == DEFAULT_TAXONOMY:
        labels = class_labels(unlabeled_class=False)  # as a Cityscapes classes run has them, label ids and all
        from19 = np.full(256, IGNORE_INDEX, np.uint8)
        from19[: labels.num_classes] = np.arange(labels.num_classes)
        return labels, from19
    return read_taxonomy(cfg.dataset.taxonomy)


def source_config(cfg, entry):
    """The run's config as a single-dataset run on ``entry`` (one ``dataset.sources`` item) would have it: the dataset
    keys only other families read (``val_fraction`` beside a Cityscapes source, ``coarse`` beside BDD100K) keep their
    defaults there, so each source reads the keys of its own family."""
    default = DatasetConfig()
    foreign = {
        f.name: getattr(default, f.name)
        for f in dataclasses.fields(DatasetConfig)
        if f.metadata.get("read_by") and entry.target not in f.metadata["read_by"]
    }
    single = {"sources": [], "taxonomy": DEFAULT_TAXONOMY, "labels": entry.labels}  # a run on this dataset alone
    dataset = dataclasses.replace(cfg.dataset, **single, **foreign)
    paths = dataclasses.replace(cfg.paths, root=entry.root)
    return dataclasses.replace(cfg, target=entry.target, paths=paths, dataset=dataset)


def training_sources(cfg) -> list:
    """The run's sources, each with its classes in the taxonomy; every mistake in the list is one UserError."""
    entries = cfg.dataset.sources
    if cfg.dataset.train_list is not None:
        raise UserError(
            "Config key 'dataset.train_list' names images relative to one paths.root; with dataset.sources leave it "
            "null (dataset.train_fraction applies to each source)."
        )
    if cfg.unlabeled.enabled and cfg.unlabeled.split is not None:
        raise UserError(
            "Config key 'unlabeled.split' names a split of one dataset; with dataset.sources use unlabeled.source (a "
            "folder or a video)."
        )
    tax, from19 = taxonomy(cfg)
    names = [entry.name or entry.target for entry in entries]
    sources = []
    for i, (entry, name) in enumerate(zip(entries, names)):
        where = f"dataset.sources[{i}]"
        family_class(entry.target)  # an unknown target names the registered ones
        if not entry.root:
            raise UserError(f"Config key '{where}.root' is empty; set it to the {entry.target} dataset's folder.")
        if not name or any(c in name for c in "/\\ \t"):
            raise UserError(
                f"Config key '{where}.name' is {name!r}: it names files (train_list_<name>.txt) and TensorBoard tags; "
                "use letters, digits, - or _."
            )
        if names.count(name) > 1:
            raise UserError(
                f"Config key '{where}': two sources are named '{name}'; give each its own 'name' (validation figures "
                "are reported by name)."
            )
        source_cfg = source_config(cfg, entry)
        family = dataset_family(source_cfg)
        to19 = family.to_cityscapes19()
        if to19 is None:
            raise UserError(
                f"Config key '{where}.target' is {entry.target}, whose labels have no mapping into the 19 Cityscapes "
                "classes (docs/datasets.md lists the families that map); "
                + (
                    "give its classes.yaml classes a maps_to."
                    if entry.target == "folder"
                    else "leave it out of dataset.sources."
                )
            )
        lut = from19[to19]
        sources.append(Source(name, source_cfg, entry.weight, dataclasses.replace(tax, lut=lut), family))
    return sources


def run_configs(cfg) -> list:
    """The single-dataset configs the run reads data through: each source's, or the run's own."""
    check_taxonomy_has_sources(cfg)
    return [source.cfg for source in training_sources(cfg)] if has_sources(cfg) else [cfg]


def run_labels(cfg) -> LabelSet:
    """The run's classes: the taxonomy's with ``dataset.sources``, else the family's in ``dataset.labels``."""
    if has_sources(cfg):
        return taxonomy(cfg)[0]
    check_taxonomy_has_sources(cfg)
    return dataset_family(cfg).labels()


def in_cityscapes19(trained_dataset: dict) -> bool:
    """Whether a checkpoint's saved ``dataset`` section trained in the 19 Cityscapes classes, not a taxonomy file."""
    return trained_dataset.get("taxonomy", DEFAULT_TAXONOMY) == DEFAULT_TAXONOMY


def check_taxonomy_has_sources(cfg) -> None:
    """A taxonomy without sources would be ignored: one line instead."""
    if not has_sources(cfg) and cfg.dataset.taxonomy != DEFAULT_TAXONOMY:
        raise UserError(
            f"Config key 'dataset.taxonomy' is '{cfg.dataset.taxonomy}', but dataset.sources is empty: a taxonomy is "
            "what several sources train into. List the datasets in dataset.sources, or remove dataset.taxonomy."
        )


__all__ = [
    "DEFAULT_TAXONOMY",
    "Source",
    "has_sources",
    "in_cityscapes19",
    "run_configs",
    "run_labels",
    "source_config",
    "taxonomy",
    "training_sources",
]
