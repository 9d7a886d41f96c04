"""What eval writes in the dataset's own encoding and which official scorer it runs, by the family's declared values.

A dataset family (utils/data/families) only declares ``results`` (an encoding name) and ``official_scorer``;
this module owns what those names mean: the writers (label_results.py, kitti_results.py) and the scorers
(cityscapes_official.py).
"""

from utils.evaluation.cityscapes_official import official_check
from utils.evaluation.kitti_results import KittiResults
from utils.evaluation.label_results import CityscapesResults, LabelValueResults
from utils.visualize import save_gray, save_palette_png

ENCODINGS = ("label_png", "palette_png", "cityscapes_label_ids", "kitti_road")
OFFICIAL_SCORERS = {"cityscapes": official_check}
TRAIN_ID_NOTE = (
    "the checkpoint's class indices (the 19 Cityscapes train ids 0-18, or its own taxonomy's; 255 = none) the ground "
    "truth was mapped into, not the dataset's own encoding"
)


def _scored_in_cityscapes19(setup) -> bool:
    """True where the dataset's ground truth was mapped into the checkpoint's 19 Cityscapes classes."""
    mapping = getattr(setup, "mapping", None)
    return mapping is not None and mapping.kind == "ground_truth"


def results_writer(setup, log, split):
    """The writer of eval's results (``add``, ``close``, ``metrics``, ``report``) for ``setup.family``, or None.

    ``split`` is None for a folder of images or a video. Encodings that hold one label value per class need
    ``labels.to_label_id``: label modes that merge values into a class (Cityscapes road, categories) write none.
    """
    family, labels = setup.family, setup.labels  # the checkpoint's classes, which may come without the dataset
    if family.results not in ENCODINGS:
        raise ValueError(f"{family.name} declares results {family.results!r}; known: {', '.join(ENCODINGS)}")
    if _scored_in_cityscapes19(setup):
        # The dataset's own encoding cannot hold classes its values were merged into: the 19 train ids (255: none).
        return LabelValueResults(setup.output_dir / "results", family.root, labels, save_gray, TRAIN_ID_NOTE)
    if family.results == "kitti_road":
        return KittiResults(setup, log, split, family.mode)
    if labels.to_label_id is None:
        return None
    if family.results == "cityscapes_label_ids":
        return CityscapesResults(setup.output_dir / "cityscapes_results", labels) if split is not None else None
    if family.results == "palette_png":
        return LabelValueResults(
            setup.output_dir / "results", family.root, labels, lambda p, v: save_palette_png(p, v, labels.colors)
        )
    return LabelValueResults(setup.output_dir / "results", family.root, labels, save_gray)


def official_scoring(setup, split: str):
    """A callable ``(metrics, log)`` that adds the dataset's own evaluator's figures to ``metrics``, or None.

    It applies when the family names a scorer, ``eval.official`` is on, the classes map to the dataset's label
    values, and ``split`` is the one whose ground truth the scorer reads (``family.official_split()``).
    """
    family = setup.family
    if family.official_scorer is None or not setup.cfg.eval.official or setup.labels.to_label_id is None:
        return None
    if _scored_in_cityscapes19(setup):  # the official scorer reads the dataset's own label values
        return None
    if split != family.official_split():
        return None
    score = OFFICIAL_SCORERS[family.official_scorer]
    return lambda metrics, log: score(setup, metrics, log)
