"""model_table: one row per architecture to choose from, measured side by side in one process.

For each registered architecture (models/archs) at 19 classes: parameters, forward GFLOPs at 1024x2048 (torch
FlopCounterMode, counted on the meta device), latency at 512x1024, batch 1, in PyTorch and in onnxruntime on this
machine's device, and one training step beside segmentation_models_pytorch's same network where smp has it (ours /
smp time; below 1 ours is faster)::

    python -m benchmarks.model_table [--quick] [--only fpn deeplabv3plus ...] [--json OUT]

``--quick`` takes small encoders and sizes and three rows; the full table took 8 minutes on 2 CPU cores.
"""

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import device_name, side_by_side
from benchmarks.train_step import make_step
from models.archs import ARCHITECTURES
from models.registry import build_model, count_parameters
from utils.deployment.export import DeployModule, export_onnx
from utils.deployment.runtime import create_session

CLASSES = 19
# (row, arch, encoder, extra model keys, smp class with the same network or None); rows of unregistered archs skip.
ROWS = [
    ("FPN R50", "fpn", "resnet50", {}, "FPN"),
    ("UNET R50", "unet", "resnet50", {}, "Unet"),
    ("DeepLabV3+ R50", "deeplabv3plus", "resnet50", {}, "DeepLabV3Plus"),
    ("UPerNet R50", "upernet", "resnet50", {}, "UPerNet"),
    ("SegFormer PVTv2-B2", "segformer", "tu-pvt_v2_b2", {}, "Segformer"),
    ("PIDNet-S", "pidnet", None, {"pidnet_size": "s"}, None),
    ("PIDNet-M", "pidnet", None, {"pidnet_size": "m"}, None),
    ("PIDNet-L", "pidnet", None, {"pidnet_size": "l"}, None),
]
QUICK_ENCODERS = {"resnet50": "resnet18", "tu-pvt_v2_b2": "tu-pvt_v2_b0"}
FULL = {"flops_size": (1024, 2048), "latency_size": (512, 1024), "train_size": (256, 512), "repeats": 3}
QUICK = {"flops_size": (128, 256), "latency_size": (64, 128), "train_size": (64, 128), "repeats": 2}


def _model(arch: str, encoder, keys: dict):
    kwargs = dict(keys) if encoder is None else {**keys, "encoder": encoder}
    return build_model(arch, num_classes=CLASSES, encoder_weights=None, **kwargs)


def gflops(model, size) -> float:
    """Forward GFLOPs at (1, 3, *size); on the meta device, so nothing is computed."""
    meta = copy.deepcopy(model).to("meta").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(torch.zeros(1, 3, *size, device="meta"))
    return counter.get_total_flops() / 1e9


def latency(model, size, repeats: int, device: str) -> dict:
    """Median milliseconds per image of PyTorch and onnxruntime (the exported graph), interleaved call by call."""
    model = model.to(device).eval()
    x = torch.randn(1, 3, *size, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(DeployModule(copy.deepcopy(model).cpu(), "ce_dice", "logits"), Path(tmp) / "model.onnx")
        session = create_session(path, device, threads=torch.get_num_threads() if device == "cpu" else 0)
        feed = {"image": x.cpu().numpy()}

        @torch.inference_mode()
        def pytorch():
            model(x)

        seconds = side_by_side(
            {"pytorch": pytorch, "onnxruntime": lambda: session.run(None, feed)}, repeats, warmup=1, device=device
        )
    return {name: 1000 * s for name, s in seconds.items()}


def train_ratio(model, smp_class, encoder: str, size, repeats: int, device: str):
    """(ours ms, smp ms) per image of one training step (BCE + dice, Adam) at batch 2, or None without smp."""
    if smp_class is None:
        return None
    import segmentation_models_pytorch as smp

    theirs = getattr(smp, smp_class)(encoder_name=encoder, encoder_weights=None, classes=CLASSES)
    steps = {name: make_step(m, device, size, 2, CLASSES) for name, m in (("ours", model), ("smp", theirs))}
    seconds = side_by_side(steps, repeats, warmup=1, device=device)
    return 1000 * seconds["ours"] / 2, 1000 * seconds["smp"] / 2


def measure(row, setting: dict, device: str) -> dict:
    name, arch, encoder, keys, smp_class = row
    encoder = QUICK_ENCODERS.get(encoder, encoder) if setting is QUICK else encoder
    model = _model(arch, encoder, keys)
    record = {"row": name, "arch": arch, "encoder": encoder or "own", "keys": keys}
    record["parameters"] = count_parameters(model)
    record["gflops"] = gflops(model, setting["flops_size"])
    record["latency_ms"] = latency(copy.deepcopy(model), setting["latency_size"], setting["repeats"], device)
    train = train_ratio(model, smp_class, encoder, setting["train_size"], setting["repeats"], device)
    if train is not None:
        record["train_ms"] = {"ours": train[0], "smp": train[1]}
        record["train_ratio"] = train[0] / train[1]
    return record


def run(device: str = "cpu", quick: bool = False, only=None) -> dict:
    """The table's records; the ``python -m benchmarks`` entry (its ratio: the worst ours / smp train step)."""
    setting = QUICK if quick else FULL
    rows = [r for r in ROWS if r[1] in ARCHITECTURES and (not only or r[1] in only or r[0] in only)]
    if quick and not only:  # the suite's --quick run: one row of each kind keeps it to a minute
        rows = [r for r in rows if r[0] in ("FPN R50", "DeepLabV3+ R50", "PIDNet-S")]
    records = [measure(row, setting, device) for row in rows]
    ratios = {r["row"]: r["train_ratio"] for r in records if "train_ratio" in r}
    return {
        "unit": "image",
        "ms_per_unit": {f"{r['row']} pytorch": r["latency_ms"]["pytorch"] for r in records},
        "ratio": max(ratios.values()) if ratios else None,
        "ratios": ratios,
        "headline": "worst ours / smp train step",
        "peer": "segmentation_models_pytorch 0.6's same networks (train step)",
        "settings": {**{k: list(v) if isinstance(v, tuple) else v for k, v in setting.items()}, "classes": CLASSES},
        "device": device_name(device),
        "rows": records,
    }


def format_table(records: list, setting: dict) -> str:
    """The markdown table docs/models.md shows."""
    (fh, fw), (lh, lw) = setting["flops_size"], setting["latency_size"]
    lines = [
        f"| model | encoder | parameters | GFLOPs {fh}x{fw} | PyTorch ms {lh}x{lw} | onnxruntime ms {lh}x{lw} "
        "| train step ours / smp |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        ratio = f"{r['train_ratio']:.2f}" if "train_ratio" in r else "n/a (smp has none)"
        lat = r["latency_ms"]
        lines.append(
            f"| {r['row']} | {r['encoder']} | {r['parameters']:,} | {r['gflops']:.1f} | {lat['pytorch']:.0f} | "
            f"{lat['onnxruntime']:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="small encoders and sizes, one timed call each")
    p.add_argument("--only", nargs="+", help="architectures or row names to measure")
    p.add_argument("--json", help="also write the records here")
    args = p.parse_args(argv)
    report = run(args.device, args.quick, args.only)
    print(f"{report['device']}, torch {torch.__version__}, {torch.get_num_threads()} threads; {report['settings']}")
    print(format_table(report["rows"], QUICK if args.quick else FULL))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
