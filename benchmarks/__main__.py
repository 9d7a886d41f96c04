"""python -m benchmarks [--device cpu|cuda] [--quick] [--json OUT] [--only NAME ...] [--threads N]

Runs every benchmark of benchmarks/registry.py side by side with its peer, prints one markdown table
(milliseconds per unit, units per second, and ours / theirs ratios: below 1 ours is faster) and, with
--json, writes the same figures as one JSON object, rewritten after each benchmark so that a run cut
short keeps what it measured. Peers need requirements-bench.txt.
"""

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import torch

from benchmarks.registry import BENCHMARKS


def machine(device: str, threads: int) -> dict:
    info = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_cores": os.cpu_count(),
        "torch_threads": threads,
        "device": device,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpus"] = torch.cuda.device_count()
    return info


def run_entry(entry, device: str, quick: bool) -> dict:
    if entry.cuda_only and device != "cuda":
        return {"skipped": "runs with --device cuda only"}
    if entry.cpu_only and device != "cpu":
        return {"skipped": "runs with --device cpu only"}
    if entry.optional and importlib.util.find_spec(entry.module) is None:
        return {"skipped": f"{entry.module} is not in this checkout"}
    start = time.perf_counter()
    try:
        record = importlib.import_module(entry.module).run(device=device, quick=quick)
    except ImportError as exc:
        return {"error": f"{exc} (pip install -r requirements-bench.txt)", "seconds": time.perf_counter() - start}
    except Exception as exc:  # one broken benchmark must not lose the others' figures
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start}
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


def summary(record: dict) -> str:
    if "skipped" in record or "error" in record:
        return record.get("skipped") or record["error"]
    ratio = record.get("ratio")
    return (
        f"{record.get('headline', 'ratio')}: {ratio:.2f}" if ratio is not None else "done"
    ) + f" ({record.get('seconds')} s)"


def _number(value) -> str:
    return f"{value:.3g}" if abs(value) < 10 else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.1f}"


def table(results: dict) -> str:
    """One markdown table: a row per contender, then a row per ratio."""
    lines = ["| benchmark | contender | ms per unit | units per s | ours / theirs |", "|---|---|---:|---:|---:|"]
    for name, r in results.items():
        if "skipped" in r or "error" in r:
            lines.append(
                f"| {name} | {'skipped: ' + r['skipped'] if 'skipped' in r else 'error: ' + r['error']} | | | |"
            )
            continue
        unit = r.get("unit", "unit")
        for contender, ms in (r.get("ms_per_unit") or {}).items():
            lines.append(f"| {name} | {contender} | {_number(ms)} / {unit} | {_number(1000 / ms)} | |")
        ratios = r.get("ratios") or ({"ratio": r["ratio"]} if "ratio" in r else {})
        for key, value in ratios.items():
            bold = "**" if key == r.get("headline") else ""
            lines.append(f"| {name} | {bold}{key}{bold} | | | {bold}{value:.2f}{bold} |")
        if r.get("notes"):
            lines.append(f"| {name} | _{r['notes']}_ | | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and few repeats: under 5 minutes on two CPU cores"
    )
    parser.add_argument("--json", type=Path, help="write the figures here as one JSON object")
    parser.add_argument("--only", nargs="+", choices=[e.name for e in BENCHMARKS], help="run these benchmarks only")
    # On a shared CPU, OpenMP threads that wait for each other stall whole steps (8x here with 2 threads
    # on 2 busy cores); one thread each keeps the contenders' comparison fair and the run short.
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: 1 with --device cpu, torch's own with cuda)",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA GPU is visible", file=sys.stderr)
        return 2
    threads = args.threads or (1 if args.device == "cpu" else torch.get_num_threads())
    torch.set_num_threads(threads)
    output = {"machine": machine(args.device, threads), "quick": args.quick, "benchmarks": {}}
    for entry in BENCHMARKS:
        if args.only and entry.name not in args.only:
            continue
        print(f"== {entry.name}", flush=True)
        output["benchmarks"][entry.name] = record = run_entry(entry, args.device, args.quick)
        print(f"   {summary(record)}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(output, indent=1))
    m = output["machine"]
    where = m.get("gpu") or f"CPU, {m['cpu_cores']} cores, {threads} torch thread(s)"
    print(f"\n{m['date']}, {where}, torch {m['torch']}{', quick' if args.quick else ''}\n")
    print(table(output["benchmarks"]))
    return 1 if any("error" in r for r in output["benchmarks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
