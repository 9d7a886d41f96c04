"""Model size before you rent GPUs: layer table, parameters, memory and FLOPs (torchinfo + torch FlopCounterMode).

python model_summary.py --model_type fpn --backbone resnext50 --num_classes 8 --input_size 3,512,1024
python model_summary.py --config_path train_config.yaml
"""

import argparse
import sys

import torch
from torch.utils.flop_counter import FlopCounterMode
from torchinfo import summary

from models import build_model, count_parameters
from utils.config import load_config
from utils.config.cli import run_main
from utils.config.errors import UserError
from utils.labels import build_labels


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config_path", help="take the model and input size from this training config")
    p.add_argument("--model_type", default="fpn", choices=["fpn", "unet"], help="architecture (default fpn)")
    p.add_argument("--backbone", default="resnext50_32x4d", help="encoder, e.g. resnext50, resnet34 (default resnext50_32x4d)")
    p.add_argument("--num_classes", type=int, default=8, help="output classes (default 8)")
    p.add_argument("--unet_res_blocks", action="store_true", help="original UNET: residual decoder blocks")
    p.add_argument("--unet_preset", default="light", choices=["light", "original"], help="UNET decoder (default light)")
    p.add_argument("--input_size", default=None, help="C,H,W (default 3,512,1024, or the config's last training size)")
    p.add_argument("--batch_size", type=int, default=1, help="batch size for the memory estimate (default 1)")
    p.add_argument("--depth", type=int, default=3, help="layer-table depth (default 3)")
    return p.parse_args(argv)


def _input_size(text: str) -> tuple:
    try:
        c, h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--input_size '{text}' must be C,H,W, e.g. 3,512,1024.") from None
    if c != 3 or h < 32 or w < 32:
        raise UserError(f"--input_size '{text}': the models take 3 channels and at least 32x32 pixels.")
    return c, h, w


def _model_from_args(args):
    if args.config_path:
        cfg = load_config(args.config_path)
        labels = build_labels(cfg.target, cfg.dataset.labels, cfg.dataset.unlabeled_class)
        m = cfg.model
        model = build_model(
            m.arch,
            m.encoder,
            labels.num_classes,
            None,
            m.dropout,
            m.fpn_merge,
            m.fpn_pyramid_channels,
            m.fpn_segmentation_channels,
            m.unet_preset,
            m.unet_decoder_channels,
            m.unet_num_filters,
            m.unet_res_blocks,
        )
        size = (cfg.training.stages[-1].size if cfg.training.stages and cfg.training.stages[-1].size else None) or cfg.dataset.size
        shape = _input_size(args.input_size) if args.input_size else (3, *size)
        return model, shape, f"{m.arch} / {m.encoder}, {labels.num_classes} classes (from {args.config_path})"
    preset = "original" if args.unet_res_blocks else args.unet_preset
    model = build_model(args.model_type, args.backbone, args.num_classes, None, unet_preset=preset, unet_res_blocks=args.unet_res_blocks)
    return model, _input_size(args.input_size or "3,512,1024"), f"{args.model_type} / {args.backbone}, {args.num_classes} classes"


def main(argv=None) -> int:
    args = parse_args(argv)
    model, size, title = _model_from_args(args)
    model.eval()
    x = torch.zeros(args.batch_size, *size)
    stats = summary(model, input_data=x, depth=args.depth, col_names=("output_size", "num_params", "mult_adds"), verbose=0)
    print(stats)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *size))
    flops = counter.get_total_flops()
    print(f"\n{title}, input {size[1]}x{size[2]}")
    print(f"parameters: {count_parameters(model):,} total, {count_parameters(model, trainable_only=True):,} trainable")
    print(f"FLOPs per image (torch FlopCounterMode, forward): {flops / 1e9:.1f} G")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
