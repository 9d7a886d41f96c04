"""Training-step throughput of our models beside segmentation_models_pytorch's, measured side by side.

    pip install segmentation-models-pytorch==0.6.0
    python benchmarks/train_step.py --arch fpn --size 512 1024 --batch 8 --amp bf16 --channels_last
    python benchmarks/train_step.py --device cpu --size 96 192 --batch 4 --steps 5   # a quick CPU check

Prints the median images/s over the timed steps for each model and their ratio. Timings on shared
machines are noisy: compare only numbers from one invocation.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import build_model, count_parameters  # noqa: E402
from utils.losses import BCEDiceLoss  # noqa: E402


def smp_model(arch: str, encoder: str, classes: int):
    import segmentation_models_pytorch as smp

    return (smp.FPN if arch == "fpn" else smp.Unet)(encoder_name=encoder, encoder_weights=None, classes=classes)


def time_steps(model, args, device) -> list:
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt).train()
    if args.compile:
        model = torch.compile(model)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    loss_fn = BCEDiceLoss(args.classes).to(device)
    x = torch.randn(args.batch, 3, *args.size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, args.classes, (args.batch, *args.size), device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    times = []
    for step in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None and device.type == "cuda"):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="fpn", choices=["fpn", "unet"])
    p.add_argument("--encoder", default="resnext50_32x4d")
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--size", type=int, nargs=2, default=[512, 1024])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"])
    p.add_argument("--channels_last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    ours = build_model(args.arch, args.encoder, args.classes)
    print(
        f"{args.arch}/{args.encoder}, {args.classes} classes, batch {args.batch} at {args.size[0]}x{args.size[1]}, amp {args.amp}, channels_last {args.channels_last}, compile {args.compile}, {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'})"
    )
    results = {"ours": (count_parameters(ours), time_steps(ours, args, device))}
    try:
        theirs = smp_model(args.arch, args.encoder, args.classes)
        results["smp"] = (count_parameters(theirs), time_steps(theirs, args, device))
    except ImportError:
        print("segmentation_models_pytorch is not installed: timing ours only")
    for name, (params, times) in results.items():
        print(f"{name:5s} {params:,} params: median {args.batch / statistics.median(times):.1f} img/s over {len(times)} steps")
    if len(results) == 2:
        ratio = statistics.median(results["smp"][1]) / statistics.median(results["ours"][1])
        print(f"ours / smp throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
