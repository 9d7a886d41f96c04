"""Train a segmentation model: python train.py --config_path train_config.yaml [--resume] [--set key=value ...]

Multi-GPU: torchrun --nproc_per_node=N train.py --config_path ...
"""

import argparse
import sys

from utils.config import load_config
from utils.config.cli import add_config_arguments, run_main
from utils.config.errors import UserError
from utils.data import dataset_items
from utils.distributed import cleanup_distributed
from utils.runtime import setup_device
from utils.training.run_dir import RunDir
from utils.training.setup import build_training_parts
from utils.training.trainer import Trainer


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in paths.output_dir from its last.pth")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config_path, args.set)
    dataset_items(cfg, "train"), dataset_items(cfg, "val")  # a missing dataset fails now, not after the model is built
    device = setup_device(cfg.training.device)
    try:
        run = RunDir(cfg.paths.output_dir)
        if not args.resume and (run.path / "last.pth").exists():
            raise UserError(f"'{run.path}' already holds a run (last.pth). Continue it with --resume, or choose a new paths.output_dir (--set paths.output_dir=...); nothing was overwritten.")
        run.save_config(cfg)
        parts = build_training_parts(cfg, device, run.log)
        Trainer(cfg, run, parts).fit(resume=args.resume)
        run.close()
    finally:
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
