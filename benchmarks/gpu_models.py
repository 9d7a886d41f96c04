"""gpu_models (CUDA only): every architecture of the model table at 1024x2048, training images/s and inference fps,
in fp32 and in bf16 + channels_last (how train.py and eval.py run on a GPU).

Training: a full step (forward, BCE + dice, backward, Adam) on batch 2; inference: batch 1, no grad. The rows are
benchmarks/model_table.py's. Run alone with ``python -m benchmarks.gpu_models [--quick]``; ``--quick`` on the CPU at
64x128 checks the code path.
"""

import argparse
import json
import sys

import torch

from benchmarks.common import device_name, side_by_side
from benchmarks.model_table import ROWS, _model
from benchmarks.train_step import make_step
from models.archs import ARCHITECTURES

PRECISIONS = {"fp32": ("none", False), "bf16": ("bf16", True)}  # (autocast, channels_last)


def inference(model, device, size, amp: str, channels_last: bool):
    """A closure running one batch-1 forward pass without grad."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt).eval()
    x = torch.randn(1, 3, *size, device=device).contiguous(memory_format=fmt)
    dtype = torch.bfloat16 if amp == "bf16" else None

    @torch.inference_mode()
    def forward():
        with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            model(x)

    return forward


def measure(device: str = "cuda", size=(1024, 2048), batch: int = 2, repeats: int = 10, warmup: int = 3) -> list:
    """One record per registered row: train images/s and inference fps per precision."""
    torch.backends.cudnn.benchmark = True
    records = []
    for name, arch, encoder, keys, _ in ROWS:
        if arch not in ARCHITECTURES:
            continue
        record = {"row": name, "arch": arch, "encoder": encoder or "own", "train_images_per_s": {}, "inference_fps": {}}
        for precision, (amp, channels_last) in PRECISIONS.items():
            step = make_step(_model(arch, encoder, keys), device, size, batch, 19, amp, channels_last)
            forward = inference(_model(arch, encoder, keys), device, size, amp, channels_last)
            seconds = side_by_side({"train": step, "inference": forward}, repeats, warmup, device)
            record["train_images_per_s"][precision] = batch / seconds["train"]
            record["inference_fps"][precision] = 1 / seconds["inference"]
            del step, forward
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        records.append(record)
    return records


def format_table(records: list, size) -> str:
    lines = [
        f"| model | encoder | train img/s fp32 | train img/s bf16 | fps fp32 | fps bf16 ({size[0]}x{size[1]}) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in records:
        t, f = r["train_images_per_s"], r["inference_fps"]
        lines.append(
            f"| {r['row']} | {r['encoder']} | {t['fp32']:.1f} | {t['bf16']:.1f} | {f['fp32']:.1f} | {f['bf16']:.1f} |"
        )
    return "\n".join(lines)


def run(device: str = "cuda", quick: bool = False) -> dict:
    """The ``python -m benchmarks`` entry: its ratio is the best bf16 / fp32 training speed-up over the rows."""
    size = (64, 128) if quick else (1024, 2048)
    records = measure(device, size, repeats=2 if quick else 10, warmup=1 if quick else 3)
    speedups = {r["row"]: r["train_images_per_s"]["bf16"] / r["train_images_per_s"]["fp32"] for r in records}
    return {
        "unit": "image",
        "ms_per_unit": {f"{r['row']} train bf16": 1000 / r["train_images_per_s"]["bf16"] for r in records},
        "ratio": max(speedups.values()) if speedups else None,
        "ratios": speedups,
        "headline": "best bf16 / fp32 train speed-up",
        "peer": "the same models in fp32",
        "settings": {"size": list(size), "train_batch": 2, "device": device_name(device)},
        "notes": format_table(records, size),
        "rows": records,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--quick", action="store_true", help="64x128, two timed rounds: a check of the code path")
    p.add_argument("--json", help="also write the records here")
    args = p.parse_args(argv)
    report = run(args.device, args.quick)
    print(f"{report['settings']['device']}, torch {torch.__version__}")
    print(report["notes"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
