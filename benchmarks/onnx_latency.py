"""Batch-1 latency of one model in PyTorch and in onnxruntime, measured side by side in one process.

    python -m benchmarks.onnx_latency                   # CPU at 512x1024 and 1024x2048, and the GPU when there is one
    python -m benchmarks.onnx_latency --quick           # a tiny model at small sizes: checks that it works, in seconds
    python -m benchmarks.onnx_latency --checkpoint runs/quickstart/best.pth --json latency.json

The model is FPN-resnext50 with 8 classes (the quickstart's and the original project's), exported by
``export.py``'s code (probabilities out, fp32); weights do not change the timing, so random ones serve unless a
checkpoint is given. PyTorch and onnxruntime calls alternate, so load from other processes hits both alike,
and both get the same number of CPU threads. images/s is 1 / median latency (batch 1). On the GPU,
onnxruntime needs the onnxruntime-gpu wheel (CUDA provider); inputs and outputs stay on the device
(I/O binding), as PyTorch's do.
"""

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.registry import build_model  # noqa: E402
from utils.data.families import build_labels  # noqa: E402
from utils.deployment.export import DeployModule, export_onnx  # noqa: E402
from utils.deployment.runtime import CUDA_PROVIDER, create_session  # noqa: E402
from utils.evaluation.setup import load_eval_model, merged_config  # noqa: E402

SIZES = ((512, 1024), (1024, 2048))
QUICK_SIZES = ((64, 128), (96, 192))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str) -> dict:
    info = {
        "cpu": _cpu_name(),
        "cpu_cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _model(quick: bool, checkpoint=None):
    if checkpoint:
        cfg, ckpt, path = merged_config(None, checkpoint, [])
        labels = build_labels(cfg.target, cfg.dataset.labels, cfg.dataset.unlabeled_class)
        model = load_eval_model(cfg, ckpt, path, labels)
        return model, cfg.training.loss, f"{cfg.model.arch}/{cfg.model.encoder}, {labels.num_classes} classes ({path})"
    torch.manual_seed(0)
    encoder = "resnet18" if quick else "resnext50_32x4d"
    return build_model("fpn", encoder, 8, None).eval(), "bce_dice", f"fpn/{encoder}, 8 classes, random weights"


class _TorchRunner:
    def __init__(self, module, device: str):
        self.module, self.device = module.to(device), device

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> None:
        self.module(x)
        if self.device == "cuda":
            torch.cuda.synchronize()


class _OrtRunner:
    def __init__(self, path, device: str):
        self.session = create_session(path, device, threads=torch.get_num_threads() if device == "cpu" else 0)
        self.device = device
        self.output = self.session.get_outputs()[0].name

    def __call__(self, x: torch.Tensor) -> None:
        if self.device == "cpu":
            self.session.run(None, {"image": x.numpy()})
            return
        binding = self.session.io_binding()
        binding.bind_input("image", "cuda", 0, np.float32, list(x.shape), x.data_ptr())
        binding.bind_output(self.output, "cuda")
        self.session.run_with_iobinding(binding)


def _time(runners: dict, x: torch.Tensor, warmup: int, repeats: int) -> dict:
    """Alternates the runners call by call; returns the seconds of each call per runner."""
    times = {name: [] for name in runners}
    for step in range(warmup + repeats):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner(x)
            if step >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def _row(device, size, backend, seconds) -> dict:
    median = statistics.median(seconds)
    p90 = float(np.percentile(seconds, 90))
    return {
        "device": device,
        "size": list(size),
        "backend": backend,
        "median_ms": 1000 * median,
        "p90_ms": 1000 * p90,
        "images_per_s": 1 / median,
        "repeats": len(seconds),
    }


def run(device: str = "cpu", quick: bool = False, checkpoint=None, repeats: int = 0, threads: int = 0) -> dict:
    """Times PyTorch and onnxruntime at batch 1 on ``device`` (cpu or cuda), both with ``threads`` CPU threads (0: torch's default).

    Returns:
        {"machine", "model", "device", "results": [{"device", "size", "backend", "median_ms", "p90_ms",
        "images_per_s", "repeats"}], "ratios": {"<device> HxW": onnxruntime / PyTorch median time},
        "ratio": that ratio at the first size, "skipped": why a backend did not run (or absent)}.
    """
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda asked for, but torch sees no CUDA GPU")
    sizes = QUICK_SIZES if quick else SIZES
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads)
    try:
        return _run(device, sizes, quick, checkpoint, repeats)
    finally:
        torch.set_num_threads(default_threads)


def _run(device, sizes, quick, checkpoint, repeats) -> dict:
    model, loss, description = _model(quick, checkpoint)
    module = DeployModule(model, loss, "probabilities")
    result = {"machine": machine(device), "model": description, "device": device, "results": [], "ratios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(DeployModule(copy.deepcopy(model), loss, "probabilities"), Path(tmp) / "model.onnx")
        runners = {"pytorch": _TorchRunner(module, device)}
        if device == "cpu" or CUDA_PROVIDER in onnxruntime.get_available_providers():
            runners["onnxruntime"] = _OrtRunner(path, device)
        else:
            result["skipped"] = (
                "onnxruntime on cuda: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
            )
        for i, size in enumerate(sizes):
            x = torch.randn(1, 3, *size, device=device)
            n = repeats or (3 if quick else (10 if i == 0 else 5))
            times = _time(runners, x, warmup=1 if quick else 2, repeats=n)
            rows = {name: _row(device, size, name, seconds) for name, seconds in times.items()}
            result["results"] += list(rows.values())
            if "onnxruntime" in rows:
                result["ratios"][f"{device} {size[0]}x{size[1]}"] = (
                    rows["onnxruntime"]["median_ms"] / rows["pytorch"]["median_ms"]
                )
    if result["ratios"]:
        result["ratio"] = next(iter(result["ratios"].values()))
    return result


def format_table(results: list) -> str:
    lines = ["| device | input | backend | median ms | p90 ms | images/s |", "|---|---|---|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['device']} | {r['size'][0]}x{r['size'][1]} | {r['backend']} | {r['median_ms']:.1f} | "
            f"{r['p90_ms']:.1f} | {r['images_per_s']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="auto: the CPU, then the GPU when there is one",
    )
    p.add_argument("--quick", action="store_true", help="FPN-resnet18 at 64x128 and 96x192, 3 timed calls each")
    p.add_argument("--checkpoint", help="time this checkpoint's model instead of a random FPN-resnext50")
    p.add_argument(
        "--repeats",
        type=int,
        default=0,
        help="timed calls per backend and size (default 10 at the first size, 5 at the second)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help=(
            "CPU threads for both backends (default: torch's default, one per core); 1 gives steadier figures on a "
            "shared machine"
        ),
    )
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    devices = (
        ["cpu", "cuda"]
        if args.device == "auto" and torch.cuda.is_available()
        else ["cpu" if args.device == "auto" else args.device]
    )
    reports = [run(d, args.quick, args.checkpoint, args.repeats, args.threads) for d in devices]
    print(f"{reports[0]['model']}; {reports[0]['machine']}")
    print(format_table([r for report in reports for r in report["results"]]))
    for report in reports:
        for key, ratio in report["ratios"].items():
            print(f"onnxruntime / PyTorch time, {key}: {ratio:.2f}")
        if report.get("skipped"):
            print(f"skipped: {report['skipped']}")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
