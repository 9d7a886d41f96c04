"""inference: images per second of eval.py's path on 1024x2048 images, whole and sliding, beside the bare forward.

eval.py's path is its prediction step (utils/evaluation/predict.py): the model runner (autocast, memory
format, probabilities as the loss defines them), the upsampling to the label's resolution and the argmax on
the device, and the copy of the uint8 class map to the host: everything eval.py does per image before the
metrics and the pictures (DropClusters, off here, runs on a worker thread). "whole" runs the model on the full
1024x2048 image (as mmseg's 13.5 fps for Semantic FPN R50 on a V100); "slide" runs 512x1024 windows
overlapping by a third (eval.inference: slide). The bare forward is ``model(x)`` alone.
"""

import torch

from benchmarks.common import device_name, result, side_by_side
from models.registry import build_model
from utils.evaluation.inference import ModelRunner
from utils.evaluation.predict import PredictionStep
from utils.evaluation.tta import tta_views


def eval_path(step: PredictionStep, images: torch.Tensor, size) -> list:
    return [p.final for p in step(images, [size] * len(images))]


def run(device: str = "cpu", quick: bool = False) -> dict:
    cuda = torch.device(device).type == "cuda"
    full, window, classes = (1024, 2048), (512, 1024), 19
    if cuda:
        encoder, repeats, warmup = "resnext50_32x4d", 20, 3
    else:
        encoder, repeats, warmup = ("resnet18", 1, 0) if quick else ("resnext50_32x4d", 3, 1)
    dev = torch.device(device)
    amp = torch.bfloat16 if cuda else None
    mem_format = torch.channels_last if cuda else torch.contiguous_format
    model = build_model("fpn", encoder, classes, encoder_weights=None).to(dev, memory_format=mem_format).eval()
    runner = {"amp_dtype": amp, "mem_format": mem_format}
    whole = PredictionStep(
        ModelRunner(model, "bce_dice", classes, dev, mode="resize", window=full, **runner), tta_views("none"), classes
    )
    slide = PredictionStep(
        ModelRunner(model, "bce_dice", classes, dev, mode="slide", window=window, overlap=0.33, **runner),
        tta_views("none"),
        classes,
    )
    x = torch.randn(1, 3, *full, generator=torch.Generator().manual_seed(0))  # on the host, as the loader delivers it
    x_dev = x.to(dev).contiguous(memory_format=mem_format)

    @torch.inference_mode()
    def bare():
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            return model(x_dev)

    fns = {
        "bare forward": bare,
        "eval path, whole": lambda: eval_path(whole, x, full),
        "eval path, slide": lambda: eval_path(slide, x, full),
    }
    seconds = side_by_side(fns, repeats, warmup, device)
    ms = {name: 1000 * s for name, s in seconds.items()}
    ratios = {
        "whole / bare": seconds["eval path, whole"] / seconds["bare forward"],
        "slide / bare": seconds["eval path, slide"] / seconds["bare forward"],
    }
    settings = {
        "model": f"fpn/{encoder}",
        "classes": classes,
        "size": list(full),
        "window": list(window),
        "overlap": 0.33,
        "batch": 1,
        "amp": "bf16" if cuda else "none",
        "repeats": repeats,
        "device": device_name(device),
    }
    images_per_s = {name: round(1000 / v, 3) for name, v in ms.items()}
    notes = "mmseg Semantic FPN R50: 13.5 images/s on a V100 at 1024x2048 (whole)"
    return result(
        "image",
        ms,
        ratios,
        "whole / bare",
        "the bare model forward (model(x), same autocast)",
        settings,
        notes,
        images_per_s=images_per_s,
    )
