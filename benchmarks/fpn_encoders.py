"""FPN with different encoders side by side: parameters, forward GFLOPs, and training-step images/s.

    python benchmarks/fpn_encoders.py                                   # the README table (CPU, 128x256, batch 2)
    python benchmarks/fpn_encoders.py --size 512 1024 --batch 8 --device cuda --amp bf16 --channels_last
    python benchmarks/fpn_encoders.py --encoders resnet34 tu-convnext_tiny

The timed steps run round-robin (one step of each model in turn), so load that comes and goes on a
shared machine lands on every model alike; compare only figures from one invocation. Prints a markdown
table: median images/s and throughput relative to the first encoder.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.registry import build_model, count_parameters  # noqa: E402
from utils.losses import BCEDiceLoss  # noqa: E402

ENCODERS = [
    "resnext50_32x4d",
    "resnet34",
    "tu-convnext_tiny",
    "tu-efficientnet_b3",
    "tu-regnety_040",
    "tu-resnest50d",
    "tu-pvt_v2_b2",
    "tu-convnext_atto",
    "tu-efficientnet_b0",
    "tu-pvt_v2_b0",
]


def forward_gflops(model, size, classes: int) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.zeros(1, 3, *size))
    return counter.get_total_flops() / 1e9


class Stepper:
    """One model's training step (forward, BCE + dice, backward, Adam) on a fixed batch."""

    def __init__(self, model, args, device):
        self.fmt = torch.channels_last if args.channels_last else torch.contiguous_format
        self.model = model.to(device, memory_format=self.fmt).train()
        self.opt = torch.optim.Adam(self.model.parameters(), 1e-4)
        self.loss = BCEDiceLoss(args.classes).to(device)
        self.x = torch.randn(args.batch, 3, *args.size, device=device).contiguous(memory_format=self.fmt)
        self.y = torch.randint(0, args.classes, (args.batch, *args.size), device=device)
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp) if device.type == "cuda" else None
        self.device, self.times = device, []

    def step(self, timed: bool) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            loss = self.loss(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        if timed:
            self.times.append(time.perf_counter() - start)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoders", nargs="+", default=ENCODERS)
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--size", type=int, nargs=2, default=[128, 256], help="training-step input H W")
    p.add_argument("--flops_size", type=int, nargs=2, default=[512, 1024], help="input H W for the FLOP count")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"])
    p.add_argument("--channels_last", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = {}
    for name in args.encoders:
        model = build_model("fpn", name, args.classes)
        rows[name] = (
            count_parameters(model),
            forward_gflops(model, args.flops_size, args.classes),
            Stepper(model, args, device),
        )
    steppers = [row[2] for row in rows.values()]
    for i in range(args.warmup + args.steps):
        for s in steppers:
            s.step(timed=i >= args.warmup)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"FPN, {args.classes} classes; GFLOPs per {args.flops_size[0]}x{args.flops_size[1]} image (forward); training "
        f"steps of batch {args.batch} at {args.size[0]}x{args.size[1]}, {where}, amp {args.amp}"
    )
    print(f"median over {args.steps} round-robin steps after {args.warmup} warm-up steps\n")
    print("| encoder | parameters | GFLOPs | train img/s | relative |")
    print("|---|---:|---:|---:|---:|")
    base = None
    for name, (params, gflops, s) in rows.items():
        speed = args.batch / statistics.median(s.times)
        base = base or speed
        print(f"| {name} | {params:,} | {gflops:.1f} | {speed:.2f} | {speed / base:.2f}x |")


if __name__ == "__main__":
    main()
