"""Which frames to label next: python -m utils.evaluation.select --checkpoint PATH --input FOLDER|VIDEO --budget N

Ranks the frames by the model's uncertainty (--score), skips near-duplicates of frames already chosen (pooled
deepest features closer than --duplicate_distance in cosine distance), and writes into --out:
selection.csv, contact_sheet.png (the chosen frames beside their uncertainty maps) and, with --link_dir, the
chosen frames in a folder for a labelling tool. With --split instead of --input (a split of the checkpoint's
dataset, --root to say where it is) it also scores each frame's real error (1 - its mIoU) and writes how well
the score ranks the frames by it (Spearman) to selection_quality.json.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from utils.config.cli import add_debug_argument, run_main
from utils.config.errors import UserError
from utils.evaluation.contact_sheet import check_link_dir, contact_sheet, link_frame
from utils.evaluation.frame_scoring import chosen_pictures, input_batches, input_count, score_frames, split_frames
from utils.evaluation.selection import choose_frames, selection_csv, selection_quality, write_quality
from utils.evaluation.setup import build_eval_setup
from utils.evaluation.uncertainty import SCORES
from utils.files import atomic_write_text, ensure_writable_folder
from utils.runtime import setup_console_logging
from utils.visualize import save_rgb

# Cosine distance of the pooled deepest features under which a frame counts as a duplicate of a chosen one:
# consecutive frames of the sample's demoVideo are closer, separate scenes farther (docs/evaluation.md).
DUPLICATE_DISTANCE = 0.026


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a best.pth or last.pth of train.py")
    source = parser.add_argument_group("frames (one of)")
    source.add_argument("--input", help="a folder of images (searched recursively) or a video file")
    source.add_argument("--split", choices=("train", "val", "test"), help="a split of the checkpoint's dataset")
    parser.add_argument("--root", help="with --split: where the dataset is (default: the checkpoint's paths.root)")
    parser.add_argument("--budget", type=int, required=True, help="how many frames to choose")
    parser.add_argument("--score", choices=SCORES, default="entropy", help="how uncertainty is measured")
    parser.add_argument("--confidence", type=float, default=0.9, help="low_confidence: pixels below count")
    parser.add_argument(
        "--duplicate_distance",
        type=float,
        default=DUPLICATE_DISTANCE,
        help=f"skip a frame closer than this cosine distance to a chosen one; 0 keeps all (default {DUPLICATE_DISTANCE})",
    )
    parser.add_argument("--every", type=int, default=1, help="a video's every k-th frame")
    parser.add_argument("--out", help="output folder (default: <checkpoint folder>/selection)")
    parser.add_argument("--link_dir", help="a new or empty folder to place the chosen frames in, for labelling")
    parser.add_argument("--columns", type=int, default=3, help="contact sheet columns")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: the checkpoint's eval.device")
    parser.add_argument(
        "--batch_size", type=int, help="frames per model call (default: the checkpoint's eval.batch_size)"
    )
    add_debug_argument(parser)
    return parser.parse_args(argv)


def _check(args) -> None:
    if (args.input is None) == (args.split is None):
        raise UserError(
            "Give either --input (a folder of images or a video) or --split (train | val | test), not both."
        )
    if args.budget < 1:
        raise UserError(f"--budget is {args.budget}; it must be 1 or more (how many frames to choose).")
    if not 0 < args.confidence <= 1:
        raise UserError(f"--confidence is {args.confidence}; it must be in (0, 1].")
    if not 0 <= args.duplicate_distance <= 2:
        raise UserError(f"--duplicate_distance is {args.duplicate_distance}; cosine distances lie in [0, 2].")
    if args.batch_size is not None and args.batch_size < 1:
        raise UserError(f"--batch_size is {args.batch_size}; it must be 1 or more.")
    if args.every < 1:
        raise UserError(f"--every is {args.every}; it must be 1 or more (a video's every k-th frame).")
    if args.columns < 1:
        raise UserError(f"--columns is {args.columns}; it must be 1 or more.")
    if args.root and args.input:
        raise UserError("--root says where the dataset of --split is; with --input, leave it out.")


def _check_budget(budget: int, count, what: str) -> None:
    if count is not None and budget > count:
        raise UserError(f"--budget is {budget} but {what} holds {count} frames; choose at most {count}.")


def main(argv=None) -> int:
    args = parse_args(argv)
    _check(args)
    log = setup_console_logging()
    link_dir = check_link_dir(args.link_dir) if args.link_dir else None
    count = None
    if args.input:  # a wrong input or budget stops before the model loads
        count, exact = input_count(args.input, args.every)
        _check_budget(args.budget, count if exact else None, f"'{args.input}'")  # a video's count is an estimate
    overrides = ["eval.tta=none", "eval.drop_clusters=0", "eval.backend=pytorch"]
    overrides += [f"eval.device={args.device}"] if args.device else []
    overrides += [f"paths.root={args.root}"] if args.root else []
    setup = build_eval_setup(None, args.checkpoint, overrides, log, make_output=False)
    out = ensure_writable_folder(args.out or Path(args.checkpoint).parent / "selection", "the selection folder (--out)")
    frames = _score(args, setup, count, log)
    scores, features = np.array(frames.scores), np.concatenate(frames.features)
    selection = choose_frames(scores, features, args.budget, args.duplicate_distance)
    chosen = selection.chosen
    atomic_write_text(out / "selection.csv", selection_csv(frames.names, scores, selection, frames.errors))
    skipped = int((selection.duplicate_of >= 0).sum())
    log.info(
        f"chose {len(chosen)} of {len(scores)} frames by {args.score}, skipping {skipped} near-duplicates "
        f"(cosine distance under {args.duplicate_distance}; features: {frames.features_from}, pooled)"
    )
    if len(chosen) < args.budget:
        log.info(f"note: only {len(chosen)} frames are not near-duplicates of each other; lower --duplicate_distance")
    _quality(args, out, scores, frames.errors, log)
    pictures = chosen_pictures(setup, frames, chosen, args.input, args.every, args.score, args.confidence)
    entries = [(k, frames.names[i], scores[i], *pictures[k - 1]) for k, i in enumerate(chosen, 1)]
    save_rgb(out / "contact_sheet.png", contact_sheet(entries, args.columns))
    if link_dir is not None:
        digits = max(4, len(str(len(chosen))))
        for (k, name, _, image, _), i in zip(entries, chosen):
            link_frame(link_dir, k, digits, name, frames.paths[i], image)
        log.info(f"placed the {len(chosen)} chosen frames in {link_dir}, named in rank order")
    log.info(f"selection.csv and contact_sheet.png in {out}")
    return 0


def _score(args, setup, count, log):
    """Every frame's score, features and (on a labelled split) errors; a budget above the frame count stops.
    ``count`` is --input's frame count or estimate, for the progress bar."""
    batch_size = args.batch_size or setup.cfg.eval.batch_size
    if args.split:
        batches, count = split_frames(setup, args.split, batch_size, log)
        what = f"the {args.split} split"
        _check_budget(args.budget, count, what)
    else:
        batches, what = input_batches(args.input, args.every, setup.cfg.dataset.size, batch_size), f"'{args.input}'"
    frames = score_frames(setup, batches, count, args.score, args.confidence)
    _check_budget(args.budget, len(frames.names), what)  # a video's count is known once it is decoded
    return frames


def _quality(args, out: Path, scores: np.ndarray, errors, log) -> None:
    """On a labelled split: the Spearman figures, printed and in selection_quality.json; else no stale file stays."""
    path = out / "selection_quality.json"
    if errors is None:
        path.unlink(missing_ok=True)  # an earlier run's figure would be read as this selection's
        if args.split:
            log.info(f"note: the {args.split} split has no labels here, so there is no error to rank against")
        return
    quality = {"score": args.score, "split": args.split, "checkpoint": str(args.checkpoint)}
    quality.update(selection_quality(scores, errors["error"]))
    quality["pixel_error"] = selection_quality(scores, errors["pixel_error"])
    write_quality(path, quality)
    if quality["spearman"] is None:
        log.info(f"Spearman correlation undefined on {quality['n']} frames with labels (too few, or constant)")
        return
    pixel = quality["pixel_error"]["spearman"]
    log.info(
        f"Spearman rank correlation of {args.score} with the per-image error (1 - mIoU) on {args.split}: "
        f"{quality['spearman']:.3f} (n {quality['n']}, p {quality['p_value']:.2g}); with 1 - pixel accuracy: "
        + ("undefined" if pixel is None else f"{pixel:.3f}")
        + ". 1 would rank the frames exactly by their error, 0 not at all."
    )


if __name__ == "__main__":
    sys.exit(run_main(main))
