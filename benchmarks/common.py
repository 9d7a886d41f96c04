"""What every benchmark shares: interleaved timing, the result record, a full-size sample and thread pinning."""

import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT / "data" / "bench"


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def side_by_side(fns: dict, repeats: int, warmup: int = 0, device="cpu") -> dict:
    """Median seconds per call of each ``fns[name]()``, the contenders interleaved round by round.

    On a shared, noisy machine, alternating the contenders (and their order) exposes them to the same
    load, so their ratio holds even when the absolute numbers drift.
    """
    names = list(fns)
    times = {name: [] for name in names}
    for round_ in range(warmup + repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            sync(device)
            start = time.perf_counter()
            fns[name]()
            sync(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def result(
    unit: str, ms: dict, ratios: dict, headline: str, peer: str, settings: dict, notes: str = "", **extra
) -> dict:
    """The record one benchmark returns: milliseconds per ``unit`` of each contender and ours / theirs ratios.

    Args:
        unit: what one measurement covers (``image``, ``sample``, ``prediction``).
        ms: contender -> milliseconds per unit.
        ratios: comparison -> ours / theirs in time per unit (below 1: ours is faster).
        headline: the key of ``ratios`` reported as this benchmark's ``ratio``.
        peer: what we compare with, in words.
        settings: sizes, models, repeats: what a reader needs to rerun it.
    """
    return {
        "unit": unit,
        "ms_per_unit": ms,
        "ratio": ratios[headline],
        "ratios": ratios,
        "headline": headline,
        "peer": peer,
        "settings": settings,
        "notes": notes,
        **extra,
    }


@contextmanager
def threads(n: int):
    """Runs the block on ``n`` torch threads (one, to measure one loader worker), then restores the count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def full_size_sample(train_images: int) -> Path:
    """A Cityscapes-layout sample at the real 1024x2048 (the built-in one is 256x512), made once under data/bench.

    Returns the Cityscapes root. Its PNGs are about 3.3 MB each, real Cityscapes frames about 2.2 MB.
    """
    from utils.sample_data import SampleSpec, generate_sample

    spec = SampleSpec(
        cityscapes_size=(1024, 2048),
        train_cities={"aachen": train_images},
        val_cities={"frankfurt": 2},
        test_cities={},
        coarse_cities={},
        video_frames=0,
        kitti_train_per_category=0,
        kitti_test_per_category=0,
        kitti_object_train=0,
        kitti_object_test=0,
    )
    out = BENCH_DATA / f"cityscapes_1024x2048_{train_images}"
    generate_sample(out, spec)
    return out / "cityscapes"


def device_name(device) -> str:
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
