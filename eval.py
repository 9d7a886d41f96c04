"""Evaluate and predict: python eval.py --config_path FILE [--checkpoint PATH] [--set section.key=value ...]

With labels (eval.split val, train, or test where the dataset labels it): metrics at ground-truth resolution, with and without DropClusters,
the per-class table, metrics.json, per_image.csv, report.html, a confusion-matrix picture, prediction
pictures, and results in the dataset's own encoding (official-format exports, KITTI devkit files, label
files at the ground truth's paths).
Without (eval.split test of most datasets, or eval.input = a folder of images or a video file): predictions, overlays, videos;
with eval.pseudo_label_threshold also pseudo_labels/, the input's confident predictions as label files for review.
"""

import argparse
import sys
from pathlib import Path

from utils.config.cli import add_config_arguments, run_main
from utils.config.errors import UserError
from utils.evaluation.loop import run_evaluation
from utils.evaluation.pseudo_labels import check_pseudo_labels
from utils.evaluation.report import write_report
from utils.evaluation.results import official_scoring
from utils.evaluation.setup import build_eval_setup
from utils.evaluation.video import VIDEO_SUFFIXES, is_video
from utils.evaluation.video_eval import run_video
from utils.files import atomic_write_text, to_json
from utils.runtime import setup_console_logging


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, required=False)
    parser.add_argument(
        "--checkpoint", help="checkpoint to evaluate (default: eval.checkpoint, else <paths.output_dir>/best.pth)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    log = setup_console_logging()
    setup = build_eval_setup(args.config_path, args.checkpoint, args.set, log)
    check_pseudo_labels(setup)
    source = setup.cfg.eval.input
    if source and is_video(source):
        run_video(setup, log, Path(source))
        return 0
    if source and Path(source).is_file():
        raise UserError(
            f"eval.input '{source}' is a file but not a video ({', '.join(VIDEO_SUFFIXES)}). Give a video, or the "
            "folder that holds your images."
        )
    metrics = run_evaluation(setup, log, folder=Path(source) if source else None)
    if metrics:
        path = setup.output_dir / "metrics.json"
        atomic_write_text(path, to_json(metrics))  # saved before the official evaluator runs, in case it fails
        official = official_scoring(setup, setup.cfg.eval.split)  # Cityscapes' own evaluator, where it applies
        if official is not None:
            official(metrics, log)
            atomic_write_text(path, to_json(metrics))
    log.info(f"report: {write_report(setup, metrics)} (open it in a browser; it needs no server)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
