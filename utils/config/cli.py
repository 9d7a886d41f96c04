"""What every entry script shares: the --config_path / --set / --debug arguments and turning errors into exit codes."""

import argparse
import sys
import traceback

from utils.config.errors import UserError, user_message

EXIT_INTERRUPTED = 130
EXIT_OS_ERROR = 1


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--config_path", required=required, help="YAML config, e.g. train_config.yaml or configs/quickstart.yaml"
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override config keys; values are parsed as YAML, e.g. --set training.epochs=5 dataset.size=[256,512]",
    )
    add_debug_argument(parser)


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="print the full traceback of any error (for bug reports)")


def run_main(main, argv=None) -> int:
    """Calls ``main(argv)`` and turns what a user can fix into one clear line and an exit code.

    UserError: its message, exit 2 (3 for a non-finite loss). An OS error that escaped (a disk, a
    permission): the file and the reason, exit 1. Ctrl-C: exit 130. With ``--debug`` every error
    also prints its full traceback.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        return main(argv) or 0
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("interrupted: checkpoints written so far are intact (resume with --resume).", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if debug:
            traceback.print_exc()
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"error: {exc.strerror or user_message(exc)}{where}. Run with --debug for the traceback.", file=sys.stderr
        )
        return EXIT_OS_ERROR
