"""What every entry script shares: the --config_path / --set arguments and turning UserError into an exit code."""

import argparse
import sys

from utils.config.errors import EXIT_USER_ERROR, UserError

EXIT_INTERRUPTED = 130


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--config_path", required=required, help="YAML config, e.g. train_config.yaml or configs/quickstart.yaml")
    parser.add_argument("--set", nargs="+", default=[], metavar="SECTION.KEY=VALUE", help="override config keys; values are parsed as YAML, e.g. --set training.epochs=5 dataset.size=[256,512]")


def run_main(main, argv=None) -> int:
    """Calls ``main(argv)``; a UserError prints its message (no traceback) and returns exit code 2."""
    try:
        return main(argv) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted: checkpoints written so far are intact (resume with --resume).", file=sys.stderr)
        return EXIT_INTERRUPTED
