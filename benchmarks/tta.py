"""tta: eval.py's hflip TTA beside one plain pass and beside ttach's SegmentationTTAWrapper on the same model.

Ours runs the model on both views, maps them back and merges probabilities (sigmoid first, as the loss
trained them); ttach's wrapper merges the raw model outputs. Same model, same batch, same device.
"""

import torch

from benchmarks.common import device_name, result, side_by_side
from models.registry import build_model
from utils.evaluation.inference import ModelRunner
from utils.evaluation.tta import predict_with_tta, tta_views


def run(device: str = "cpu", quick: bool = False) -> dict:
    cuda = torch.device(device).type == "cuda"
    if cuda:
        encoder, size, batch, repeats, warmup = "resnext50_32x4d", (512, 1024), 4, 20, 3
    else:
        encoder, size, batch, repeats, warmup = (
            ("resnet18", (128, 256), 2, 8, 1) if quick else ("resnext50_32x4d", (256, 512), 2, 5, 1)
        )
    import ttach

    classes = 19
    model = build_model("fpn", encoder, classes, encoder_weights=None).to(device).eval()
    amp = torch.bfloat16 if cuda else None
    mem_format = torch.channels_last if cuda else torch.contiguous_format
    model = model.to(memory_format=mem_format)
    predictor = ModelRunner(model, "bce_dice", classes, torch.device(device), amp_dtype=amp, mem_format=mem_format)
    views = tta_views("hflip")
    x = (
        torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(0))
        .to(device)
        .contiguous(memory_format=mem_format)
    )
    wrapper = ttach.SegmentationTTAWrapper(model, ttach.aliases.hflip_transform(), merge_mode="mean")

    @torch.inference_mode()
    def theirs():
        with torch.autocast(torch.device(device).type, dtype=amp, enabled=amp is not None):
            return wrapper(x)

    fns = {
        "ours hflip": lambda: predict_with_tta(predictor, x, views),
        "one pass": lambda: predictor(x),
        "ttach hflip": theirs,
    }
    seconds = side_by_side(fns, repeats, warmup, device)
    ms = {name: 1000 * s / batch for name, s in seconds.items()}
    ratios = {
        "ours / ttach": seconds["ours hflip"] / seconds["ttach hflip"],
        "ours hflip / one pass": seconds["ours hflip"] / seconds["one pass"],
    }
    settings = {
        "model": f"fpn/{encoder}",
        "classes": classes,
        "size": list(size),
        "batch": batch,
        "amp": "bf16" if cuda else "none",
        "repeats": repeats,
        "device": device_name(device),
    }
    notes = "ttach averages raw outputs; ours averages sigmoid probabilities"
    return result(
        "image",
        ms,
        ratios,
        "ours / ttach",
        "ttach 0.0.3 SegmentationTTAWrapper(hflip_transform, mean)",
        settings,
        notes,
    )
