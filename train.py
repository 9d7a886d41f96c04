"""Train a segmentation model: python train.py --config_path train_config.yaml [--resume] [--set key=value ...]

Multi-GPU: torchrun --nproc_per_node=N train.py --config_path ...
SLURM: srun python train.py --config_path ... (one task per GPU), or srun torchrun ... (one task per node)
"""

import argparse
import sys

from utils.config.cli import add_config_arguments, run_main
from utils.config.loading import load_config
from utils.data.checks import checked_run_items
from utils.data.loaders import dataset_items
from utils.data.sources import run_configs, training_sources
from utils.data.subset import is_labelled_subset, write_train_list
from utils.data.unlabeled import check_unlabeled_source
from utils.distributed import cleanup_distributed
from utils.runtime import setup_console_logging, setup_device, sigterm_as_interrupt
from utils.training.resume import prepare_run_folder
from utils.training.run_dir import RunDir
from utils.training.run_lock import check_not_locked, lock_run_folder, on_main_process
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
    with sigterm_as_interrupt():
        device = setup_device(cfg.training.device)
        return run_training(cfg, args.resume, device)


def write_train_lists(cfg, train_items, folder) -> None:
    """train_list.txt, or with dataset.sources train_list_<source>.txt, each relative to its dataset's root."""
    if isinstance(train_items, dict):
        for source in training_sources(cfg):
            write_train_list(train_items[source.name], source.cfg.paths.root, folder / f"train_list_{source.name}.txt")
    else:
        write_train_list(train_items, cfg.paths.root, folder / "train_list.txt")


def run_training(cfg, resume: bool, device) -> int:
    run = lock = None
    try:
        # Another training in the folder, a mistaken --resume, a missing dataset or bad files stop the run here, with the run folder untouched.
        on_main_process(lambda: check_not_locked(cfg.paths.output_dir))
        ckpt = prepare_run_folder(cfg, resume)
        for data_cfg in run_configs(cfg):  # the run's dataset, or every one of dataset.sources
            dataset_items(data_cfg, "train"), dataset_items(data_cfg, "val")
        check_unlabeled_source(cfg)
        # Rank 0 creates the folder and holds its lock from here to the end; before the data check, which can take minutes.
        lock = lock_run_folder(cfg, ckpt is None, setup_console_logging())
        items = checked_run_items(cfg, ("train", "val"), setup_console_logging())
        run = RunDir(cfg.paths.output_dir)  # removes what a killed save left
        if ckpt is None:
            run.save_config(cfg)
            if is_labelled_subset(cfg):  # which images kept their labels, as a list dataset.train_list reads back
                on_main_process(lambda: write_train_lists(cfg, items["train"], run.path))
        parts = build_training_parts(cfg, device, run.log, items, resume=ckpt is not None)
        Trainer(cfg, run, parts).fit(ckpt)
    finally:
        try:
            if run is not None:
                run.close()
        finally:
            if lock is not None:
                lock.release()
            cleanup_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
