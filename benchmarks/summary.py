"""python -m benchmarks.summary OUT: the markdown a GPU session's files add up to, ready for the README.

Reads what benchmarks/gpu_session.sh wrote into OUT: env.txt, loader.txt, bench_cuda.json,
train_metrics.json and ddp.log.
"""

import json
import re
import statistics
import sys
from pathlib import Path

from benchmarks.__main__ import table
from benchmarks.gpu import peak_tflops


def training_lines(metrics_path: Path, forward_gflops, device: str) -> list:
    if not metrics_path.is_file():
        return ["training: no metrics.json (the run failed or timed out; see train.log)"]
    history = json.loads(metrics_path.read_text())
    speeds = [r["images_per_sec"] for r in history[1:]] or [r["images_per_sec"] for r in history]
    speed = statistics.median(speeds)
    last = history[-1]
    epochs = f"epochs 2-{len(history)}" if len(history) > 1 else "its one epoch"
    line = (
        f"training: {last['iteration']} steps, median {speed:.1f} images/s over {epochs} (training steps and loader "
        f"waits; validation and checkpoints not counted), last val mIoU {last['miou']:.3f}"
    )
    peak = peak_tflops(device)
    if forward_gflops and peak:
        line += (
            f"; model FLOPs utilisation {100 * 3 * forward_gflops * 1e9 * speed / (peak * 1e12):.1f}% of {peak:.0f} "
            "TFLOP/s bf16"
        )
    return [line]


def summarize(out: Path) -> str:
    lines = []
    env = (out / "env.txt").read_text() if (out / "env.txt").is_file() else ""
    found = re.search(r"gpus \d+ \[(.*?)\]", env)
    device = (found.group(1).replace("'", "") if found else "") or "no GPU (dry run)"
    lines.append(f"## GPU session: {device}\n")
    bench = json.loads((out / "bench_cuda.json").read_text()) if (out / "bench_cuda.json").is_file() else None
    if bench:
        m = bench["machine"]
        lines.append(f"{m['date']}, {m.get('gpu', m['device'])}, torch {m['torch']}, {m['cpu_cores']} CPU cores\n")
        lines.append(table(bench["benchmarks"]) + "\n")
    else:
        lines.append("no bench_cuda.json: the suite did not run\n")
    loader = (out / "loader.txt").read_text() if (out / "loader.txt").is_file() else ""
    lines += [line for line in loader.splitlines() if "samples/s" in line or "images/s" in line]
    gpu = (bench or {}).get("benchmarks", {}).get("gpu", {})
    lines += training_lines(out / "train_metrics.json", gpu.get("forward_gflops_per_image"), device)
    ddp = (out / "ddp.log").read_text() if (out / "ddp.log").is_file() else ""
    epochs = re.findall(r"epoch \d+/\d+ .*?\| ([\d.]+) img/s", ddp)
    if epochs:
        lines.append(
            f"2 processes: median {statistics.median(float(e) for e in epochs[1:] or epochs):.0f} images/s over "
            f"{len(epochs)} epochs"
        )
    elif ddp:
        lines.append("2 processes: " + ddp.strip().splitlines()[-1][:300])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/gpu_session")), end="")
