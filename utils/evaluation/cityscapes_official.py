"""Runs cityscapesscripts' official pixel-level evaluator, also on numpy 2.x.

cityscapesScripts 2.3.0 still calls ``np.in1d``, which numpy 2.4 removed; its instance-level (iIoU)
part then crashes. ``patch_numpy`` restores ``in1d`` as a ravelled ``np.isin`` (what in1d always was)
before the evaluator is imported. Users run the unmodified official module through this one:

    CITYSCAPES_DATASET=/data/cityscapes CITYSCAPES_RESULTS=runs/x/eval/cityscapes_results \\
    CITYSCAPES_EXPORT_DIR=runs/x/eval python -m utils.evaluation.cityscapes_official
"""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np

from utils.config.errors import UserError

MODULE = "cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling"
RESULT_FILE = "resultPixelLevelSemanticLabeling.json"


def patch_numpy() -> None:
    if not hasattr(np, "in1d"):

        def in1d(ar1, ar2, assume_unique=False, invert=False, **kwargs):
            return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert, **kwargs)

        np.in1d = in1d


def run_official(cityscapes_root, results_dir, export_dir, timeout: float = 3600) -> dict:
    """Evaluates the label-id PNGs in ``results_dir`` against gtFine/val in a child process.

    Returns the evaluator's JSON (``averageScoreClasses`` is its mIoU over the 19 classes).
    """
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        CITYSCAPES_DATASET=str(Path(cityscapes_root).resolve()),
        CITYSCAPES_RESULTS=str(Path(results_dir).resolve()),
        CITYSCAPES_EXPORT_DIR=str(export_dir.resolve()),
    )
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "utils.evaluation.cityscapes_official"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
    )
    if proc.returncode != 0:
        raise UserError(
            "The official Cityscapes evaluator failed (exit "
            f"{proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return json.loads((export_dir / RESULT_FILE).read_text())


def official_check(setup, metrics: dict, log) -> None:
    """Runs the official evaluator on eval's cityscapes_results/ and adds its figures to ``metrics`` beside ours."""
    log.info("running the official cityscapesscripts evaluator on cityscapes_results/ ...")
    result = run_official(setup.cfg.paths.root, setup.output_dir / "cityscapes_results", setup.output_dir / "official")
    ours = metrics.get("miou_no_void", metrics["miou"])
    classes = result.get("classScores", {})
    metrics["official"] = {
        "averageScoreClasses": result["averageScoreClasses"],
        "averageScoreInstClasses": result.get("averageScoreInstClasses"),
        "classScores": classes,
        "ours": ours,
    }
    log.info(
        f"official evaluator mIoU {result['averageScoreClasses']:.6f} | ours {ours:.6f} | difference "
        f"{abs(result['averageScoreClasses'] - ours):.2e}"
    )
    per_class = metrics["per_class"]
    gaps = [
        abs(v - per_class[k].get("iou_no_void", per_class[k]["iou"]))
        for k, v in classes.items()
        if k in per_class and v == v
    ]
    if gaps:
        log.info(f"official per-class IoU against ours: largest difference {max(gaps):.2e} over {len(gaps)} classes")


if __name__ == "__main__":
    patch_numpy()
    sys.argv = [MODULE] + sys.argv[1:]
    runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
