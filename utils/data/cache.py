"""The prepared data cache: every image and label of a split decoded and resized once, read back without a PNG decode.

One folder per (split, size, file list) under ``dataset.cache_dir`` (default ``<paths.root>/prepared``)::

    train_512x1024_3f9c2a1b/
        images.npy    (N, H, W, 3) uint8 RGB, resized exactly as the PNG path resizes (area down, linear up)
        labels.npy    (N, H, W) uint8 raw label codes (Cityscapes label ids, KITTI road codes), resized nearest
        index.json    what it was made from: every file's name, byte size and mtime, and the original sizes

Labels are stored before the label-mode lookup (nearest resizing commutes with it), so one cache serves
road, categories and classes runs alike. The folder name hashes the file names, so a different selection
(KITTI lane instead of road, other val_cities) looks for its own folder; a folder whose files changed on
disk since it was made is stale and refused, never read.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from utils.config.errors import UserError

CACHE_VERSION = 1
# What a cached sample went through; part of the folder key, so changing the resize invalidates old caches.
RESIZE_METHOD = "albumentations Resize: INTER_AREA down / INTER_LINEAR up for images, nearest for labels"


def default_cache_dir(cfg) -> Path:
    return Path(cfg.dataset.cache_dir) if cfg.dataset.cache_dir else Path(cfg.paths.root) / "prepared"


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def file_records(items: list, root) -> list:
    """[[image, bytes, mtime_ns, label or None, bytes, mtime_ns], ...] for every item: what a cache must match."""
    root, records = Path(root), []
    for item in items:
        row = []
        for path in (item.image, item.label):
            if path is None:
                row += [None, 0, 0]
                continue
            st = os.stat(path)
            row += [_relative(path, root), st.st_size, st.st_mtime_ns]
        records.append(row)
    return records


def cache_folder(cache_dir, split: str, size, records: list) -> Path:
    """``<cache_dir>/<split>_<H>x<W>_<hash of the file names, size and resize method>``."""
    names = [[r[0], r[3]] for r in records]
    key = json.dumps({"version": CACHE_VERSION, "size": list(size), "resize": RESIZE_METHOD, "files": names})
    return Path(cache_dir) / f"{split}_{size[0]}x{size[1]}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def check_index(folder: Path, records: list, size) -> str:
    """'' when ``folder`` holds a complete cache of exactly these files; otherwise why not."""
    index_path = folder / "index.json"
    if not index_path.is_file():
        return f"'{folder}' has no index.json: its build was interrupted"
    index = json.loads(index_path.read_text())
    if index.get("version") != CACHE_VERSION or index.get("size") != list(size):
        return f"'{folder}' was made by cache version {index.get('version')} at size {index.get('size')}"
    for old, new in zip(index["files"], records):
        if old != new:
            changed = new[0] if old[:3] != new[:3] else new[3]
            return f"'{changed}' changed on disk (size or modification time) after the cache was made"
    if len(index["files"]) != len(records):
        return f"it holds {len(index['files'])} files, the split now has {len(records)}"
    return ""


class CachedSplit:
    """Read-only view of one prepared folder; opens its memory maps lazily, once per process (loader workers too)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        index = json.loads((self.folder / "index.json").read_text())
        self.size = tuple(index["size"])
        self.original_sizes = [tuple(s) for s in index["original_sizes"]]
        self.has_labels = index["has_labels"]
        self._images = self._labels = None

    def __len__(self) -> int:
        return len(self.original_sizes)

    def __getstate__(self):
        # Workers open their own maps: a pickled memmap would copy the whole array into each worker.
        return {**self.__dict__, "_images": None, "_labels": None}

    def read(self, index: int):
        """(H, W, 3) uint8 image and (H, W) uint8 raw label codes (None without labels), copied out of the map."""
        if self._images is None:
            self._images = np.load(self.folder / "images.npy", mmap_mode="r")
            self._labels = np.load(self.folder / "labels.npy", mmap_mode="r") if self.has_labels else None
        image = np.array(self._images[index])
        codes = np.array(self._labels[index]) if self._labels is not None else None
        return image, codes


def find_cache(cfg, split: str, items: list, size, log=None):
    """The prepared cache for these items at ``size``, or None when there is none.

    Raises:
        UserError: a cache for exactly this selection exists but is stale or incomplete.
    """
    cache_dir = default_cache_dir(cfg)
    if not cache_dir.is_dir():
        return None
    records = file_records(items, cfg.paths.root)
    folder = cache_folder(cache_dir, split, size, records)
    if not folder.is_dir():
        others = sorted(p.name for p in cache_dir.glob(f"{split}_{size[0]}x{size[1]}_*") if p.is_dir())
        if others and log is not None:
            log.info(
                f"{split}: the prepared caches in '{cache_dir}' ({', '.join(others)}) were made from another file "
                "list; reading PNGs"
            )
        return None
    problem = check_index(folder, records, size)
    if problem:
        raise UserError(
            f"The prepared data cache '{folder}' is stale: {problem}. Rebuild it with "
            "python -m utils.data.prepare --config_path <your config> (same --set options), delete the folder, or "
            "set dataset.cache=false to read the PNGs."
        )
    return CachedSplit(folder)
