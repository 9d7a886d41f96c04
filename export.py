"""Export a checkpoint to ONNX, checked against PyTorch: python export.py --checkpoint PATH [--config_path FILE] [--set section.key=value ...]

Writes model.onnx (dynamic batch, height and width; the model's padding to its stride and the crop back
inside the graph) and model.json beside it (classes, palette, label mode, input size, mean and std, loss,
output kind), then runs onnxruntime (CPU) and PyTorch on the same images of eval.split (random ones when
there is no data) and one odd size, prints the largest probability difference and the argmax agreement,
and fails (exit 2) when they miss 1e-4 and 99.9 % (fp32). Evaluate the result with
python eval.py --checkpoint PATH --set eval.backend=onnxruntime.
"""

import argparse
import sys

from utils.config.cli import add_config_arguments, run_main
from utils.deployment.export import DEFAULT_OPSET, OUTPUT_KINDS
from utils.deployment.run import export_checkpoint
from utils.runtime import setup_console_logging


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, required=False)
    parser.add_argument(
        "--checkpoint", help="checkpoint to export (default: eval.checkpoint, else <paths.output_dir>/best.pth)"
    )
    parser.add_argument(
        "--onnx",
        help=(
            "the .onnx file to write (default: eval.onnx, else model.onnx beside the checkpoint); the sidecar .json "
            "goes beside it"
        ),
    )
    parser.add_argument(
        "--output",
        default="probabilities",
        choices=OUTPUT_KINDS,
        help=(
            "what the graph returns: logits, probabilities (the loss's sigmoid or softmax) or labels (argmax class "
            "indices)"
        ),
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"ONNX opset (default {DEFAULT_OPSET}, the highest TensorRT 10 reads)",
    )
    parser.add_argument(
        "--fp16", action="store_true", help="half-precision weights and compute; inputs and outputs stay float32"
    )
    parser.add_argument(
        "--check_images",
        type=int,
        default=4,
        help="images of eval.split run through both backends in one batch (plus one at an odd size)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    log = setup_console_logging()
    export_checkpoint(
        args.config_path,
        args.checkpoint,
        args.set,
        log,
        args.onnx,
        args.output,
        args.opset,
        args.fp16,
        max(1, args.check_images),
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
