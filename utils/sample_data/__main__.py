"""python -m utils.sample_data --out DIR [--force]: writes the built-in sample datasets."""

import argparse
import sys
import time

from utils.config.cli import add_debug_argument, run_main
from utils.sample_data.generate import generate_sample
from utils.sample_data.layouts import LAYOUTS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Write deterministic synthetic samples in the layout of every dataset family (Cityscapes, KITTI road, "
            "KITTI object, BDD100K, Mapillary Vistas, folder, KITTI semantics)."
        )
    )
    parser.add_argument("--out", default="data/sample", help="output folder (default: data/sample)")
    parser.add_argument("--force", action="store_true", help="regenerate even if a complete sample is there")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    start = time.time()
    out = generate_sample(args.out, force=args.force, progress=lambda msg: print(f"  writing {msg}", flush=True))
    print(f"Sample data ready in {out}: {', '.join(f'{name}/' for name in LAYOUTS)} ({time.time() - start:.1f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
