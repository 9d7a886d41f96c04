"""Train a segmentation model: python train.py --config_path train_config.yaml [--resume] [--set key=value ...]

Multi-GPU: torchrun --nproc_per_node=N train.py --config_path ...
"""

import argparse
import sys

from utils.config import load_config
from utils.config.cli import add_config_arguments, run_main
from utils.data import dataset_items
from utils.data.checks import checked_items
from utils.distributed import cleanup_distributed, is_main_process
from utils.files import ensure_writable_folder
from utils.runtime import setup_console_logging, setup_device
from utils.training.resume import prepare_run_folder
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
    device = setup_device(cfg.training.device)
    run = None
    try:
        # A mistaken --resume, a missing dataset or bad files stop the run here, with the run folder untouched.
        ckpt = prepare_run_folder(cfg, args.resume)
        dataset_items(cfg, "train"), dataset_items(cfg, "val")
        if is_main_process():  # before the data check, which can take minutes on a large dataset
            ensure_writable_folder(cfg.paths.output_dir, "the run folder (paths.output_dir)")
        items = checked_items(cfg, ("train", "val"), setup_console_logging())
        run = RunDir(cfg.paths.output_dir)  # proves the folder writable and removes what a killed save left
        if ckpt is None:
            run.save_config(cfg)
        parts = build_training_parts(cfg, device, run.log, items, resume=ckpt is not None)
        Trainer(cfg, run, parts).fit(ckpt)
    finally:
        if run is not None:
            run.close()
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
