"""Times painting alone (projection, in-image test, score gather, class argmax) on one CPU core.

    python benchmarks/paint_points.py [--points 120000] [--classes 8 19] [--repeats 50]

A street from the built-in sample is scanned by its simulated HDL-64E (about 265,000 points a turn) and
subsampled to ``--points``; the scores are random (C, 375, 1242) float32 maps, as a model would give at
KITTI's full resolution. Prints medians in milliseconds of wall time and of this thread's CPU time: on a
shared machine the CPU time is what one free core would take, the wall time includes waiting for one.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.painting.paint import paint_scan  # noqa: E402
from utils.sample_data.calib import sample_calib  # noqa: E402
from utils.sample_data.lidar import scan  # noqa: E402
from utils.sample_data.street import make_street  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--points", type=int, nargs="+", default=[120_000, 0], help="scan sizes; 0 is the whole simulated turn"
    )
    parser.add_argument("--classes", type=int, nargs="+", default=[8, 19])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    height, width = 375, 1242
    street = make_street(rng, height, width, "umm")
    full, _ = scan(street, rng)
    calib = sample_calib(street["focal"], width / 2, street["horizon"], street["camera_height"])
    print("| points | classes | painted | CPU ms (median) | wall ms (median) |\n|---:|---:|---:|---:|---:|")
    for count in args.points:
        points = full if count == 0 else full[rng.choice(len(full), count, replace=False)]
        for classes in args.classes:
            scores = rng.random((classes, height, width), dtype=np.float32)
            cpu, wall = [], []
            with threadpool_limits(1):
                for _ in range(args.repeats):
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    painted = paint_scan(points, scores, calib)
                    cpu.append(1000 * (time.thread_time() - start_cpu))
                    wall.append(1000 * (time.perf_counter() - start))
            print(
                f"| {len(points):,} | {classes} | {len(painted.index):,} | {np.median(cpu):.1f} | "
                f"{np.median(wall):.1f} |"
            )


if __name__ == "__main__":
    main()
