"""Model size before you rent GPUs: layer table, parameters, memory and FLOPs (torchinfo + torch FlopCounterMode).

python model_summary.py --model_type fpn --backbone resnext50 --unet_res_blocks 0 --input_size 3,512,1024
python model_summary.py --model_type unet --backbone resnext50 --unet_res_blocks 1 --input_size 3,512,1024
python model_summary.py --model_type fpn --backbone tu-convnext_tiny --num_classes 19
python model_summary.py --config_path train_config.yaml

The original project's flags run as its README prints them; with --model_type unet they describe the
original's UNET (--unet_preset original) unless --unet_preset light is given.
"""

import argparse
import re
import sys
from dataclasses import replace

import torch
from torch.utils.flop_counter import FlopCounterMode
from torchinfo import summary

from models.archs import ARCHITECTURES
from models.encoders import canonical_encoder_name
from models.registry import build_model, build_model_from_config, count_parameters, describe
from utils.config.cli import add_debug_argument, run_main
from utils.config.errors import UserError
from utils.config.loading import load_config
from utils.data.sources import run_labels
from utils.data.transforms import training_crop


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config_path", help="take the model and input size from this training config")
    p.add_argument(
        "--model_type", default="fpn", type=str.lower, choices=list(ARCHITECTURES), help="architecture (default fpn)"
    )
    p.add_argument(
        "--backbone",
        default="resnext50_32x4d",
        help="encoder, e.g. resnext50, resnet34, tu-convnext_tiny (default resnext50_32x4d)",
    )
    p.add_argument("--num_classes", type=int, default=8, help="output classes (default 8)")
    p.add_argument(
        "--unet_res_blocks",
        nargs="?",
        const=1,
        type=int,
        choices=[0, 1],
        help="original UNET: residual decoder blocks, 1 or 0 (the bare flag means 1)",
    )
    p.add_argument(
        "--unet_preset",
        choices=["light", "original"],
        help=(
            "UNET decoder: original (default here: the original's flags describe its UNET) or light (train.py's "
            "default)"
        ),
    )
    p.add_argument(
        "--input_size",
        default=None,
        help="C,H,W (default 3,512,1024, or the config's training input: dataset.crop_size, else the last stage's size)",
    )
    p.add_argument("--batch_size", type=int, default=1, help="batch size for the memory estimate (default 1)")
    p.add_argument("--depth", type=int, default=3, help="layer-table depth (default 3)")
    add_debug_argument(p)
    return p.parse_args(argv)


def _input_size(text: str) -> tuple:
    values = [v for v in re.split(r"[^0-9]+", text.strip()) if v]  # 3,512,1024 as the original takes it (any separator)
    if len(values) != 3:
        raise UserError(f"--input_size '{text}' must be C,H,W, e.g. 3,512,1024.")
    c, h, w = (int(v) for v in values)
    if c != 3 or h < 32 or w < 32:
        raise UserError(f"--input_size '{text}': the models take 3 channels and at least 32x32 pixels.")
    return c, h, w


def _model_from_args(args):
    if args.config_path:
        cfg = load_config(args.config_path)
        labels = run_labels(cfg)  # the taxonomy with dataset.sources
        m = cfg.model
        model = build_model_from_config(
            replace(m, encoder_weights=None), labels.num_classes
        )  # counting needs no weights
        # The training input: the crop when crops are taken, else the last stage's size.
        last_stage = cfg.training.stages[-1].size if cfg.training.stages else None
        size = training_crop(cfg.dataset, last_stage)
        shape = _input_size(args.input_size) if args.input_size else (3, *size)
        return model, shape, f"{describe(m)}, {labels.num_classes} classes (from {args.config_path})"
    preset, residual = _unet_preset(args), bool(args.unet_res_blocks)
    model = build_model(
        args.model_type, args.backbone, args.num_classes, None, unet_preset=preset, unet_res_blocks=residual
    )
    kind = (
        f"unet ({preset}{', residual decoder blocks' if residual and preset == 'original' else ''})"
        if args.model_type == "unet"
        else args.model_type
    )
    return model, _input_size(args.input_size or "3,512,1024"), f"{kind} / {args.backbone}, {args.num_classes} classes"


def _unet_preset(args) -> str:
    if args.model_type != "unet":
        return "light"  # unused by FPN; the original ignored --unet_res_blocks there too
    # The original's UNET is ResNet-only: a timm encoder means the light decoder unless asked otherwise.
    preset = args.unet_preset or ("light" if args.backbone.startswith("tu-") else "original")
    if args.unet_res_blocks and preset == "light":
        raise UserError(
            "--unet_res_blocks 1 adds residual blocks to the original's UNET decoder; drop --unet_preset light (or "
            "use --unet_res_blocks 0)."
        )
    return preset


# "Total params" in the original's README for its three commands (resnext50, 8 classes, torchsummary).
ORIGINAL_TOTALS = {("fpn", False): 25_588_808, ("unet", False): 81_091_464, ("unet", True): 92_014_472}


def original_note(args, model) -> str:
    """One line relating our count to the figure the original printed for the same flags, or ''."""
    if args.config_path or args.num_classes != 8 or canonical_encoder_name(args.backbone) != "resnext50_32x4d":
        return ""
    residual = args.model_type == "unet" and bool(args.unet_res_blocks)
    if (args.model_type, residual) not in ORIGINAL_TOTALS:  # the original had FPN and UNET only
        return ""
    if args.model_type == "unet" and _unet_preset(args) != "original":
        return ""
    theirs, ours = ORIGINAL_TOTALS[(args.model_type, residual)], count_parameters(model)
    if ours == theirs:
        return f"The original's README printed Total params: {theirs:,} for these flags: the same count."
    encoder = count_parameters(model.encoder)
    if ours + encoder == theirs:
        return (
            f"The original's README printed Total params: {theirs:,} for these flags: torchsummary counted the "
            f"{encoder:,}-parameter encoder twice "
            f"(its model held it as self.encoder and again in its conv1..conv5 wrappers); {ours:,} + {encoder:,} = "
            f"{theirs:,}."
        )
    return (
        f"The original's README printed Total params: {theirs:,} for these flags; this model has {ours - theirs:+,} "
        "parameters more."
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    model, size, title = _model_from_args(args)
    model.eval()
    x = torch.zeros(args.batch_size, *size)
    stats = summary(
        model, input_data=x, depth=args.depth, col_names=("output_size", "num_params", "mult_adds"), verbose=0
    )
    print(stats)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *size))
    flops = counter.get_total_flops()
    print(f"\n{title}, input {size[1]}x{size[2]}")
    print(f"parameters: {count_parameters(model):,} total, {count_parameters(model, trainable_only=True):,} trainable")
    print(f"FLOPs per image (torch FlopCounterMode, forward): {flops / 1e9:.1f} G")
    note = original_note(args, model)
    if note:
        print(note)
    if args.model_type == "fpn" and args.unet_res_blocks and not args.config_path:
        print(
            "--unet_res_blocks describes the UNET decoder; FPN has none, so it was ignored (as the original ignored "
            "it)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
