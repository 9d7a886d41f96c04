"""A semi-supervised run against its labelled-only twin at the same schedule, on the same labelled images.

    python -m benchmarks.semi_supervised [--config_path configs/sample_semi_supervised.yaml] [--out runs/semi_vs_labelled]
        [--json benchmarks/results/cpu_semi_supervised_seed0.json] [--set key=value ...]

Trains the recipe twice, in this process, one after the other: once as it is, and once with ``unlabeled.split`` and
``unlabeled.source`` set to null (its labelled-only twin: the same labelled subset, schedule, seed and augmentation).
It prints both runs' val mIoU at the end of the schedule and at their best, and writes them with the machine and the
time each run took. ``--set`` overrides go to both runs (a test runs a short version this way).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import train
from benchmarks.__main__ import machine
from utils.config.cli import run_main
from utils.config.loading import load_config
from utils.runtime import resolve_device

TWIN = ["unlabeled.split=null", "unlabeled.source=null"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config_path", default="configs/sample_semi_supervised.yaml", help="the semi-supervised recipe"
    )
    parser.add_argument("--out", default="runs/semi_vs_labelled", help="the two run folders go under here")
    parser.add_argument("--json", default=None, help="write the figures here too")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both runs")
    return parser.parse_args(argv)


def train_one(config_path: str, out: Path, overrides: list) -> dict:
    """Trains one run into ``out``; its final and best val mIoU, steps and minutes."""
    start = time.perf_counter()
    code = train.main(["--config_path", config_path, "--set", f"paths.output_dir={out}", *overrides])
    if code:
        raise SystemExit(code)
    history = json.loads((out / "metrics.json").read_text())
    scored = [r for r in history if r.get("miou") is not None]
    return {
        "final_miou": scored[-1]["miou"],
        "best_miou": max(r["miou"] for r in scored),
        "steps": scored[-1]["iteration"],
        "minutes": round((time.perf_counter() - start) / 60, 1),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    cfg = load_config(args.config_path, args.set)
    if cfg.unlabeled.split is None and cfg.unlabeled.source is None:
        raise SystemExit(f"error: {args.config_path} has no unlabeled.split or unlabeled.source to compare against.")
    runs = {
        "labelled_only": train_one(args.config_path, out / "labelled_only", [*args.set, *TWIN]),
        "semi_supervised": train_one(args.config_path, out / "semi_supervised", args.set),
    }
    gain = runs["semi_supervised"]["final_miou"] - runs["labelled_only"]["final_miou"]
    report = {
        "machine": machine(resolve_device(cfg.training.device).type, torch.get_num_threads()),
        "config": args.config_path,
        "overrides": args.set,
        **runs,
        "final_miou_gain": gain,
    }
    for name, r in runs.items():
        print(
            f"{name:16s} val mIoU {r['final_miou']:.4f} at step {r['steps']} (best {r['best_miou']:.4f}), {r['minutes']} min"
        )
    print(f"semi-supervised - labelled-only: {gain:+.4f} mIoU at the end of the same schedule")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
