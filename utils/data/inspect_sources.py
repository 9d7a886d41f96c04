"""``python -m utils.data.inspect`` on a run with ``dataset.sources``: each source in the run's taxonomy, and the mix.

Each source is read as its family reads it and counted in the taxonomy's classes (a Vistas class with no
counterpart counts as ignored there, as training sees it). The merged report is what a training batch sees on
average: every train split's counts scaled by its source's chance of being drawn per image (``weight /
sum(weights) / images``), so its class shares and ``training.class_weights`` describe the mix that is trained, not
the datasets' sizes; val splits count alike, as the mean of the sources' mIoU weighs them.
"""

from collections import Counter

import numpy as np

from utils.data.sources import training_sources


class InTaxonomy:
    """A source's family whose ``labels()`` are its classes in the run's taxonomy; everything else is the family's."""

    def __init__(self, family, labels):
        self._family, self._labels = family, labels

    def labels(self):
        return self._labels

    def __getattr__(self, name):
        return getattr(self._family, name)


def source_families(cfg) -> list:
    """(source name, weight, its family seen in the taxonomy) for each of dataset.sources."""
    return [(s.name, s.weight, InTaxonomy(s.family, s.labels)) for s in training_sources(cfg)]


def merged_stats(stats: list, weights: list) -> dict:
    """One split's counts over several sources, each scaled by its draw chance per image; None when none has labels."""
    labelled = [(s, w) for s, w in zip(stats, weights) if s.get("labelled")]
    if not labelled:
        return None
    total_weight = sum(w for _, w in labelled)
    images = sum(s["images"] for s, _ in labelled)
    out = {"images": images, "sizes": sum((s["sizes"] for s in stats), Counter()), "labelled": True}
    for key in ("pixels", "present", "pixels_where_present", "ignored", "unknown", "total"):
        out[key] = sum(np.asarray(s[key], np.float64) * (w / total_weight) * images / s["images"] for s, w in labelled)
    for key in ("ignored", "unknown", "total"):
        out[key] = float(out[key])
    return out


__all__ = ["InTaxonomy", "merged_stats", "source_families"]
