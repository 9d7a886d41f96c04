"""Generates the whole sample tree, one folder per dataset family; skips the work when a complete sample of this version is already there."""

import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from utils.sample_data.layouts import LAYOUTS

# Processes, not OpenCV threads, render in parallel; a cv2 thread pool would not survive the fork.
cv2.setNumThreads(0)

# 3: KITTI calib/ files; 4: Velodyne scans and their true point labels; 5: BDD100K, Vistas and folder layouts;
# 6: KITTI semantics layout, BDD100K colormaps beside the masks; 7: a KITTI object-benchmark folder (kitti_object/)
# for painting; 8: the CamVid layout (SegNet's release, test annotated, split files)
SAMPLE_VERSION = 8
MARKER = ".sample_complete"


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
    kitti_object_train: int = 6  # the object benchmark's layout, which only paint_points.py reads
    kitti_object_test: int = 2
    bdd_size: tuple = (180, 320)  # BDD100K's frames are 720x1280
    bdd_splits: dict = field(default_factory=lambda: {"train": 40, "val": 10, "test": 4})
    vistas_sizes: tuple = ((240, 320), (270, 480), (300, 400), (216, 384))  # Vistas' images come in many sizes
    vistas_splits: dict = field(default_factory=lambda: {"train": 40, "val": 10, "test": 4})
    folder_size: tuple = (192, 256)
    folder_splits: dict = field(default_factory=lambda: {"train": 40, "val": 10, "test": 4})
    kitti_semantics_sizes: tuple = ((125, 414), (123, 408))  # a third of KITTI's 375x1242 and 370x1224
    kitti_semantics_train: int = 40  # the release has 200 labelled training frames
    kitti_semantics_test: int = 8
    camvid_size: tuple = (180, 240)  # half of CamVid's 360x480
    camvid_splits: dict = field(default_factory=lambda: {"train": 40, "val": 10, "test": 10})
    seed: int = 2026


def _seed(spec: SampleSpec, *parts) -> np.random.Generator:
    # Each file gets its own stream so that changing one count never changes the other files.
    return np.random.default_rng([spec.seed, *[abs(hash_str(p)) if isinstance(p, str) else p for p in parts]])


def hash_str(text: str) -> int:
    """A stable (not per-process salted) hash of a short string."""
    return int.from_bytes(text.encode()[:16].ljust(16, b"\0"), "little") % (1 << 62)


def generate_sample(
    out_dir, spec: SampleSpec = SampleSpec(), force: bool = False, progress=None, workers: int = 0
) -> Path:
    """Writes ``out_dir/<family>`` for every layout in utils/sample_data/layouts (cityscapes, kitti, kitti_object,
    bdd100k, vistas, folder, kitti_semantics, camvid); returns ``out_dir``.

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
        for name in LAYOUTS:
            shutil.rmtree(out / name, ignore_errors=True)
    say = progress or (lambda _msg: None)
    jobs = [
        job
        for name, layout_jobs in LAYOUTS.items()
        for job in layout_jobs(out / name, spec, lambda *parts: _seed(spec, *parts))
    ]
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
