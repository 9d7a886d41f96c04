"""Evaluate and predict: python eval.py --config_path FILE [--checkpoint PATH] [--set section.key=value ...]

With labels (eval.split val or train): metrics at ground-truth resolution, with and without DropClusters,
the per-class table, metrics.json, a confusion-matrix picture, prediction pictures, official-format exports.
Without (eval.split test, or eval.input = a folder of images or a video file): predictions, overlays, videos.
"""

import argparse
import sys
from pathlib import Path

from utils.config.cli import add_config_arguments, run_main
from utils.config.errors import UserError
from utils.evaluation.cityscapes_official import run_official
from utils.evaluation.loop import run_evaluation
from utils.evaluation.setup import build_eval_setup
from utils.evaluation.video import VIDEO_SUFFIXES, is_video
from utils.evaluation.video_eval import run_video
from utils.files import atomic_write_text, to_json
from utils.runtime import setup_console_logging


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, required=False)
    parser.add_argument("--checkpoint", help="checkpoint to evaluate (default: eval.checkpoint, else <paths.output_dir>/best.pth)")
    return parser.parse_args(argv)


def official_applies(setup) -> bool:
    cfg = setup.cfg
    return cfg.eval.official and cfg.target == "cityscapes" and setup.labels.to_label_id is not None and cfg.eval.split == "val" and not cfg.dataset.val_cities


def official_check(setup, metrics: dict, log) -> None:
    """Runs cityscapesscripts' evaluator on the exported label ids and reports it beside our mIoU."""
    cfg = setup.cfg
    log.info("running the official cityscapesscripts evaluator on cityscapes_results/ ...")
    result = run_official(cfg.paths.root, setup.output_dir / "cityscapes_results", setup.output_dir / "official")
    ours = metrics.get("miou_no_void", metrics["miou"])
    classes = result.get("classScores", {})
    metrics["official"] = {"averageScoreClasses": result["averageScoreClasses"], "averageScoreInstClasses": result.get("averageScoreInstClasses"), "classScores": classes, "ours": ours}
    log.info(f"official evaluator mIoU {result['averageScoreClasses']:.6f} | ours {ours:.6f} | difference {abs(result['averageScoreClasses'] - ours):.2e}")
    per_class = metrics["per_class"]
    gaps = [abs(v - per_class[k].get("iou_no_void", per_class[k]["iou"])) for k, v in classes.items() if k in per_class and v == v]
    if gaps:
        log.info(f"official per-class IoU against ours: largest difference {max(gaps):.2e} over {len(gaps)} classes")


def main(argv=None) -> int:
    args = parse_args(argv)
    log = setup_console_logging()
    setup = build_eval_setup(args.config_path, args.checkpoint, args.set, log)
    source = setup.cfg.eval.input
    if source and is_video(source):
        run_video(setup, log, Path(source))
        return 0
    if source:
        if Path(source).is_file():
            raise UserError(f"eval.input '{source}' is a file but not a video ({', '.join(VIDEO_SUFFIXES)}). Give a video, or the folder that holds your images.")
        run_evaluation(setup, log, folder=Path(source))
        return 0
    metrics = run_evaluation(setup, log)
    if metrics:
        path = setup.output_dir / "metrics.json"
        atomic_write_text(path, to_json(metrics))  # saved before the official evaluator runs, in case it fails
        if official_applies(setup):
            official_check(setup, metrics, log)
            atomic_write_text(path, to_json(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
