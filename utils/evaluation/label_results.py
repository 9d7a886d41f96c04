"""Eval's results in a dataset's own label encoding: one file per evaluated image, at the ground truth's resolution.

Any other tool can score them against the dataset's label files, file by file. The dataset family's declared
``results`` picks the writer (results.py): BDD100K, Vistas and folder datasets get :class:`LabelValueResults`,
Cityscapes (classes mode) :class:`CityscapesResults` for its official evaluator, KITTI its devkit's files
(kitti_results.py). Every writer takes ``add(item, pred, gt, extra)`` per image, then ``close()``; a writer with a
``reduce`` attribute gets, as ``extra``, what it makes of the image's probabilities on the device.
"""

from pathlib import Path

import numpy as np

from utils.visualize import save_gray


class LabelValueResults:
    """``<folder>/<the gt label file's path under paths.root>`` holding each pixel's predicted label value.

    Args:
        folder: ``<eval.output_dir>/results``.
        root: the dataset root the label paths are taken relative to.
        labels: the run's LabelSet; ``to_label_id`` gives each class's value, ``ignore_value`` a dropped pixel's.
        write: ``write(path, values)``, the family's own file format (grey or palette PNG).
        encoding: what the files hold, for the log ("the dataset's own encoding").
    """

    def __init__(self, folder: Path, root: Path, labels, write, encoding: str = "the dataset's own encoding"):
        self.folder, self.root, self.write, self.encoding = Path(folder), Path(root), write, encoding
        self.values = labels.value_table()
        self.count = 0

    def path_for(self, item) -> Path:
        """The label's path under the root; an image without one (a test split, a folder) gets ``<name>.png``."""
        if item.label is not None:
            try:
                return self.folder / Path(item.label).resolve().relative_to(self.root.resolve())
            except ValueError:
                pass
        return self.folder / f"{item.name}.png"

    def add(self, item, pred: np.ndarray, gt=None, extra=None) -> None:
        self.write(self.path_for(item), self.values[pred])
        self.count += 1

    def close(self) -> None:
        pass

    def metrics(self) -> dict:
        return {}

    def report(self, metrics: dict, split, log) -> None:
        log.info(
            f"results/: {self.count} label files in {self.encoding}, at the ground truth's paths and "
            f"resolution, in {self.folder}"
        )


class CityscapesResults(LabelValueResults):
    """``cityscapes_results/<city>_<seq>_<frame>_pred_labelIds.png``: label ids at full resolution, what
    cityscapesscripts' evaluator and the benchmark server read (dropped pixels become 'unlabeled')."""

    def __init__(self, folder: Path, labels):
        super().__init__(folder, folder, labels, save_gray)

    def path_for(self, item) -> Path:
        return self.folder / f"{item.name}_pred_labelIds.png"

    def report(self, metrics: dict, split, log) -> None:
        pass
