"""gpu (CUDA only): FPN-resnext50 training images per second at 512x1024 with our fast paths, beside a plain smp fp32 loop.

Contenders, each a full training step (forward, BCE + dice, backward, Adam) on one batch:
- ``smp fp32``: segmentation_models_pytorch's FPN, float32, default memory format: the plain loop.
- ``ours bf16 + channels_last``: our FPN under bf16 autocast, channels_last, as train.py runs it.
- ``ours bf16 + channels_last + compile``: the same through torch.compile (left out with --quick).

cuDNN autotuning is on for all (train.py turns it on; a plain loop gets it with one line). Model FLOPs
utilisation = 3 x forward FLOPs per image (torch FlopCounterMode; backward ~ 2 x forward) x images/s
divided by the card's dense bf16 peak.
"""

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import device_name, result, side_by_side
from benchmarks.train_step import make_step, smp_model
from models.registry import build_model

# Dense bf16 tensor-core peaks (spec sheets), TFLOP/s; first match of the device name wins.
PEAK_BF16_TFLOPS = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10", 125.0),
)


def peak_tflops(name: str):
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def forward_flops(model, size, device) -> float:
    """FLOPs of one forward pass on one (1, 3, H, W) image, counted by FlopCounterMode."""
    x = torch.randn(1, 3, *size, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(x)
    model.train()
    return float(counter.get_total_flops())


def measure(
    device: str,
    size=(512, 1024),
    batch: int = 16,
    repeats: int = 20,
    warmup: int = 5,
    compile_model: bool = True,
    encoder: str = "resnext50_32x4d",
    classes: int = 19,
) -> dict:
    """Images/s and MFU of each contender; small sizes make it a CPU check of the code path."""
    torch.backends.cudnn.benchmark = True
    ours, theirs = build_model("fpn", encoder, classes, encoder_weights=None), smp_model("fpn", encoder, classes)
    flops = forward_flops(ours.to(device), size, device)
    steps = {
        "smp fp32": make_step(theirs, device, size, batch, classes),
        "ours bf16 + channels_last": make_step(ours, device, size, batch, classes, "bf16", True),
    }
    if compile_model:
        compiled = build_model("fpn", encoder, classes, encoder_weights=None)
        steps["ours bf16 + channels_last + compile"] = make_step(
            compiled, device, size, batch, classes, "bf16", True, compile_model=True
        )
        steps["ours bf16 + channels_last + compile"]()  # compile outside the timed rounds
    seconds = side_by_side(steps, repeats, warmup, device)
    name = device_name(device)
    peak = peak_tflops(name)
    images_per_s = {k: batch / s for k, s in seconds.items()}
    mfu = {k: (3 * flops * v / (peak * 1e12) if peak else None) for k, v in images_per_s.items()}
    return {
        "seconds": seconds,
        "images_per_s": images_per_s,
        "mfu": mfu,
        "forward_gflops_per_image": flops / 1e9,
        "peak_bf16_tflops": peak,
        "device": name,
        "batch": batch,
        "size": list(size),
        "repeats": repeats,
    }


def run(device: str = "cuda", quick: bool = False) -> dict:
    m = measure(device, compile_model=not quick)
    seconds, batch = m["seconds"], m["batch"]
    ms = {k: 1000 * s / batch for k, s in seconds.items()}
    ratios = {f"{k} / smp fp32": s / seconds["smp fp32"] for k, s in seconds.items() if k != "smp fp32"}
    settings = {
        "model": "fpn/resnext50_32x4d",
        "classes": 19,
        "size": m["size"],
        "batch": batch,
        "repeats": m["repeats"],
        "device": m["device"],
        "cudnn_benchmark": True,
    }
    best = max(m["images_per_s"], key=m["images_per_s"].get)
    notes = f"best {best}: {m['images_per_s'][best]:.0f} img/s" + (
        f", MFU {100 * m['mfu'][best]:.1f}% of {m['peak_bf16_tflops']:.0f} TFLOP/s bf16"
        if m["peak_bf16_tflops"]
        else ", card not in the peak table: no MFU"
    )
    extra = {
        "images_per_s": {k: round(v, 1) for k, v in m["images_per_s"].items()},
        "mfu": m["mfu"],
        "forward_gflops_per_image": round(m["forward_gflops_per_image"], 1),
        "peak_bf16_tflops": m["peak_bf16_tflops"],
    }
    return result(
        "image",
        ms,
        ratios,
        "ours bf16 + channels_last / smp fp32",
        "segmentation_models_pytorch FPN, fp32, plain loop",
        settings,
        notes,
        **extra,
    )
