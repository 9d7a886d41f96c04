"""Generates the whole sample tree; skips the work when a complete sample of this version is already there."""

import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from utils.sample_data.writers import write_cityscapes_frame, write_cityscapes_video, write_kitti_frame

# Processes, not OpenCV threads, render in parallel; a cv2 thread pool would not survive the fork.
cv2.setNumThreads(0)

SAMPLE_VERSION = 4  # 3: KITTI calib/ files; 4: Velodyne scans and their true point labels
MARKER = ".sample_complete"
KITTI_SIZES = [(375, 1242), (370, 1224), (374, 1238), (376, 1241)]


@dataclass(frozen=True)
class SampleSpec:
    """How much sample data to write. The defaults are the quickstart's; the tests use fewer images."""

    cityscapes_size: tuple = (256, 512)
    train_cities: dict = field(default_factory=lambda: {"aachen": 50, "bochum": 50, "bremen": 50})
    val_cities: dict = field(default_factory=lambda: {"frankfurt": 10, "lindau": 10, "munster": 10})
    test_cities: dict = field(default_factory=lambda: {"berlin": 4, "bielefeld": 4})
    coarse_cities: dict = field(default_factory=lambda: {"augsburg": 6})
    video_frames: int = 24
    kitti_train_per_category: int = 12
    kitti_test_per_category: int = 4
    seed: int = 2026


def _seed(spec: SampleSpec, *parts) -> np.random.Generator:
    # Each file gets its own stream so that changing one count never changes the other files.
    return np.random.default_rng([spec.seed, *[abs(hash_str(p)) if isinstance(p, str) else p for p in parts]])


def hash_str(text: str) -> int:
    """A stable (not per-process salted) hash of a short string."""
    return int.from_bytes(text.encode()[:16].ljust(16, b"\0"), "little") % (1 << 62)


def generate_sample(out_dir, spec: SampleSpec = SampleSpec(), force: bool = False, progress=None, workers: int = 0) -> Path:
    """Writes ``out_dir/cityscapes`` and ``out_dir/kitti``; returns ``out_dir``.

    Args:
        out_dir: folder to write into; created if missing.
        spec: how many images of what size.
        force: regenerate even when a complete sample with the same spec is present.
        progress: optional callable taking a short status string.
        workers: processes to render with; 0 uses every CPU core.
    """
    workers = workers or os.cpu_count() or 1
    out = Path(out_dir)
    marker = out / MARKER
    stamp = f"version={SAMPLE_VERSION} {asdict(spec)}"
    if not force and marker.is_file() and marker.read_text() == stamp:
        return out
    if marker.is_file():  # an earlier sample of another spec: remove it so no stale file stays behind
        marker.unlink()
        for name in ("cityscapes", "kitti"):
            shutil.rmtree(out / name, ignore_errors=True)
    say = progress or (lambda _msg: None)
    cs, jobs = out / "cityscapes", []
    for split, cities in (("train", spec.train_cities), ("val", spec.val_cities), ("test", spec.test_cities)):
        for city, count in cities.items():
            jobs += [(write_cityscapes_frame, (cs, split, city, i, 19, _seed(spec, split, city, i), spec.cityscapes_size)) for i in range(count)]
    for city, count in spec.coarse_cities.items():
        jobs += [(write_cityscapes_frame, (cs, "train_extra", city, i, 19, _seed(spec, "extra", city, i), spec.cityscapes_size, "gtCoarse")) for i in range(count)]
    if spec.video_frames:
        jobs.append((write_cityscapes_video, (cs, "stuttgart_00", spec.video_frames, _seed(spec, "video"), spec.cityscapes_size)))
    for split, count in (("training", spec.kitti_train_per_category), ("testing", spec.kitti_test_per_category)):
        for c, category in enumerate(("um", "umm", "uu")):
            for i in range(count):
                size = KITTI_SIZES[(i + c) % len(KITTI_SIZES)]
                jobs.append((write_kitti_frame, (out / "kitti", split, category, i, _seed(spec, split, category, i), size)))
    say(f"{len(jobs)} scenes on {workers} processes")
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(fn, *args) for fn, args in jobs]:
                future.result()
    else:
        for fn, args in jobs:
            fn(*args)
    marker.write_text(stamp)
    return out
