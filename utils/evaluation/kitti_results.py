"""What eval.py writes and scores for KITTI road: confidence PNGs in perspective and bird's-eye view, per-category scores.

Per frame:

- ``kitti_results/<cat>_<road|lane>_<index>.png``: the 8-bit road confidence at the image's resolution,
  named as the devkit's ``evaluateRoad.py`` reads it;
- ``kitti_results_bev/<same name>.png``: the same map in the devkit's bird's-eye view (800 x 400), what
  ``transform2BEV.py`` would write from it and ``calib/<name>.txt``; the benchmark ranks these;
- ``pictures/<name>_bev.png`` for the first ``eval.max_images`` frames: BEV confidence | BEV ground truth.

On the test split ``kitti_bev_submission.zip`` holds every BEV PNG at its root, the zip the devkit's
``simpleExample_transformTestResults2BEV.py`` tells one to upload.
"""

import zipfile

import cv2
import numpy as np

from utils.data.kitti_calib import calib_path_for, read_calib
from utils.data.kitti_layout import GT_COLORS
from utils.evaluation.kitti_bev import bev_lookup, to_bev
from utils.evaluation.kitti_devkit import CategoryScores, devkit_category, format_kitti_table, kitti_result_name
from utils.labels import IGNORE_INDEX
from utils.visualize import save_gray, save_rgb, side_by_side

SUBMISSION_ZIP = "kitti_bev_submission.zip"


class KittiResults:
    """Writes the devkit's files for every frame and accumulates perspective and BEV scores per category.

    Args:
        setup: the EvalSetup (output folder, eval.max_images).
        log: the logger.
        split: the split evaluated (test also writes the submission zip), or None for a folder.
        mode: the label mode, road or lane.
    """

    def __init__(self, setup, log, split=None, mode: str = "road"):
        self.out, self.log, self.split = setup.output_dir, log, split
        self.mode = mode
        self.max_pictures = setup.cfg.eval.max_images
        self.perspective, self.bev = CategoryScores(), CategoryScores()
        self.labelled, self.without_calib, self.bev_files, self.pictures = 0, [], [], 0

    @staticmethod
    def reduce(probs):
        """On the device: (C, H, W) probabilities -> the (H, W) uint8 road confidence (class 0 is road or lane)."""
        return (probs[0].clamp(0, 1) * 255).round().byte()

    def add(self, item, pred: np.ndarray, gt=None, extra=None) -> None:
        """One frame of eval's loop; ``extra`` is :meth:`reduce`'s confidence at the image's resolution."""
        self.add_frame(item.name, item.image, extra, gt)

    def add_frame(self, name: str, image_path, confidence: np.ndarray, gt=None) -> None:
        """One frame.

        Args:
            name: the image stem, e.g. ``um_000012``.
            image_path: where the image lies (its calib file is ``../calib/<name>.txt``), or None.
            confidence: (H, W) uint8 road confidence at the image's resolution.
            gt: (H, W) uint8, 0 road, 1 not road, IGNORE_INDEX outside the valid area; None without labels.
        """
        result = kitti_result_name(name, self.mode)
        save_gray(self.out / "kitti_results" / f"{result}.png", confidence)
        category = devkit_category(name, self.mode) if gt is not None else None
        if category:
            self.labelled += 1
            self.perspective.update(category, confidence, gt)
        calib_file = calib_path_for(image_path) if image_path is not None else None
        if calib_file is None or not calib_file.is_file():
            self.without_calib.append(calib_file)
            return
        lookup = bev_lookup(read_calib(calib_file), confidence.shape)
        confidence_bev = to_bev(confidence, lookup)
        path = self.out / "kitti_results_bev" / f"{result}.png"
        save_gray(path, confidence_bev)
        self.bev_files.append(path)
        gt_bev = to_bev(gt, lookup, IGNORE_INDEX) if gt is not None else None
        if category:
            self.bev.update(category, confidence_bev, gt_bev)
        if self.max_pictures < 0 or self.pictures < self.max_pictures:
            panels = [cv2.cvtColor(confidence_bev, cv2.COLOR_GRAY2RGB)] + (
                [GT_COLORS[gt_bev]] if gt_bev is not None else []
            )
            save_rgb(self.out / "pictures" / f"{name}_bev.png", side_by_side(*panels, gap=8))
            self.pictures += 1

    def close(self) -> None:
        """Writes the submission zip on the test split and says what BEV lacked."""
        if self.without_calib and (self.split is not None):
            example = next((p for p in self.without_calib if p is not None), None)
            self.log.warning(
                f"bird's-eye view needs the calibration: {len(self.without_calib)} frames have no calib file (e.g. "
                f"'{example}'). "
                "data_road.zip holds data_road/{training,testing}/calib/<name>.txt; without them only perspective "
                "results and scores are written."
            )
        if self.split == "test" and self.bev_files:
            with zipfile.ZipFile(self.out / SUBMISSION_ZIP, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(self.bev_files):
                    archive.write(path, path.name)
            self.log.info(
                f"{len(self.bev_files)} BEV results zipped for the KITTI road server: {self.out / SUBMISSION_ZIP}"
            )

    def report(self, metrics: dict, split, log) -> None:
        view = "perspective and bird's-eye view" if "kitti_bev" in metrics else "perspective only: BEV needs calib/"
        log.info(
            f"KITTI devkit scores per category ({view}):\n"
            + format_kitti_table(metrics["kitti"], metrics.get("kitti_bev"))
        )
        if split != "all":
            log.info(
                "the devkit's evaluateRoad.py scores kitti_results/ against every file of data_road/training: "
                "evaluate with eval.split=all for that"
            )

    def metrics(self) -> dict:
        """``kitti`` (perspective) and, when every labelled frame had its calib file, ``kitti_bev``."""
        out = {"kitti": self.perspective.compute()}
        if self.labelled and not self.without_calib:
            out["kitti_bev"] = self.bev.compute()
        return out
