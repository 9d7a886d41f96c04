"""Paint LiDAR points with the predicted classes: python paint_points.py --config_path FILE [--checkpoint PATH] [--set section.key=value ...]

For every KITTI frame under paint.root (the road benchmark's data_road/<split>, the object benchmark's <split>/ or
a raw recording's drives, each image with its calibration and Velodyne scan; the layout is recognised from the
folder): predict at the training scale with the configured TTA, upsample to the frame's full resolution, project
the scan with Tr_velo_to_cam, R0_rect and P2, and write painted/<name>.bin (float32 x, y, z, reflectance, then
the C class scores), labels/<name>.label, ply/<name>.ply, clusters/<name>.json (DBSCAN per object class), pictures
and paint_metrics.json.
"""

import argparse
import sys

from utils.config.cli import add_config_arguments, run_main
from utils.evaluation.setup import build_eval_setup
from utils.painting.run import run_painting
from utils.runtime import setup_console_logging


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, required=False)
    parser.add_argument(
        "--checkpoint",
        help="checkpoint whose model paints (default: eval.checkpoint, else <paths.output_dir>/best.pth)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    log = setup_console_logging()
    setup = build_eval_setup(args.config_path, args.checkpoint, args.set, log, paint_frames=True)
    run_painting(setup, log)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
