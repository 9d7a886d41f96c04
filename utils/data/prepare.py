"""python -m utils.data.prepare --config_path F [--set ...] [--splits train val] [--workers N] [--force]

Decodes and resizes every image and label of the configured splits once, at dataset.size and every stage's
size, into the prepared data cache (utils/data/cache.py) that train.py and eval.py then read with no PNG
decode. Caches that already match are kept; stale or interrupted ones are rebuilt. A cache is written into
a temporary folder and renamed when complete, so an interrupted run never leaves a half cache in use.
"""

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from utils.config.cli import add_config_arguments, run_main
from utils.config.errors import UserError
from utils.config.loading import load_config
from utils.data.cache import CACHE_VERSION, RESIZE_METHOD, cache_folder, check_index, default_cache_dir, file_records
from utils.data.families import dataset_family
from utils.data.segmentation import read_rgb, size_mismatch
from utils.data.sources import run_configs
from utils.data.subset import labelled_subset
from utils.data.transforms import resize_transform


def _fill(folder: str, size: tuple, decode, pairs: list, start: int) -> list:
    """Decodes pairs[i] into row start + i of the open arrays; returns each image's original (H, W)."""
    images = np.load(Path(folder) / "images.npy", mmap_mode="r+")
    labels = np.load(Path(folder) / "labels.npy", mmap_mode="r+") if pairs[0][1] is not None else None
    resize, sizes = resize_transform(size), []
    for i, (image_path, label_path) in enumerate(pairs):
        image = read_rgb(Path(image_path))
        if label_path is None:
            images[start + i] = resize(image=image)["image"]
        else:
            codes = decode(Path(label_path))
            mismatch = size_mismatch(codes.shape, image.shape, label_path, image_path)
            if mismatch:
                raise UserError(mismatch)
            out = resize(image=image, mask=codes)
            images[start + i], labels[start + i] = out["image"], out["mask"]
        sizes.append(list(image.shape[:2]))
    images.flush()
    if labels is not None:
        labels.flush()
    return sizes


def build_cache(cfg, split: str, size, workers: int = 0, force: bool = False, say=print) -> Path:
    """Writes (or keeps, when it matches) the cache of ``split`` at ``size``; returns its folder."""
    family = dataset_family(cfg)
    items = family.items(split)
    if split == "train":
        items = labelled_subset(cfg, items)  # the cache a semi-supervised run reads holds its labelled images
    records = file_records(items, cfg.paths.root)
    folder = cache_folder(default_cache_dir(cfg), split, size, records)
    if folder.is_dir():
        problem = check_index(folder, records, size)
        if not problem and not force:
            say(f"{split} at {size[0]}x{size[1]}: up to date in {folder}")
            return folder
        say(f"{split} at {size[0]}x{size[1]}: rebuilding {folder} ({problem or '--force'})")
    has_labels = items[0].label is not None
    n, (h, w) = len(items), size
    need = n * h * w * (4 if has_labels else 3)
    folder.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder.parent).free
    if need > free:
        raise UserError(
            f"The {split} cache at {h}x{w} needs {need / 2**30:.1f} GiB but '{folder.parent}' has {free / 2**30:.1f} "
            "GiB free. Set dataset.cache_dir to a larger disk."
        )
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(n, h, w, 3)).flush()
    if has_labels:
        np.lib.format.open_memmap(tmp / "labels.npy", mode="w+", dtype=np.uint8, shape=(n, h, w)).flush()
    decode = family.read_label
    pairs = [(str(it.image), None if it.label is None else str(it.label)) for it in items]
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    chunk = -(-n // (workers * 4))
    starts = range(0, n, chunk)
    start_time = time.perf_counter()
    try:
        if workers == 1:
            sizes = [s for i in starts for s in _fill(str(tmp), tuple(size), decode, pairs[i : i + chunk], i)]
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_fill, str(tmp), tuple(size), decode, pairs[i : i + chunk], i) for i in starts]
                sizes = [s for f in futures for s in f.result()]
    except BaseException:  # an unreadable file or Ctrl-C: no half-written folder stays behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    index = {
        "version": CACHE_VERSION,
        "split": split,
        "size": list(size),
        "resize": RESIZE_METHOD,
        "has_labels": has_labels,
        "original_sizes": sizes,
        "names": [it.name for it in items],
        "files": records,
    }
    (tmp / "index.json").write_text(json.dumps(index))
    if folder.is_dir():
        shutil.rmtree(folder)
    tmp.rename(folder)
    seconds = time.perf_counter() - start_time
    say(
        f"{split} at {h}x{w}: {n} images in {seconds:.1f} s ({n / max(seconds, 1e-9):.1f} images/s, {workers} "
        f"processes), {need / 2**20:.0f} MiB in {folder}"
    )
    return folder


def planned_sizes(cfg) -> list:
    """dataset.size and every stage's size, each once, in order."""
    sizes = [tuple(cfg.dataset.size)] + [tuple(s.size) for s in cfg.training.stages if s.size]
    return list(dict.fromkeys(sizes))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    parser.add_argument(
        "--splits",
        nargs="+",
        default=["train", "val"],
        choices=["train", "val", "test"],
        help="splits to prepare (default: train val)",
    )
    parser.add_argument("--workers", type=int, default=0, help="decoding processes (default: every CPU core)")
    parser.add_argument("--force", action="store_true", help="rebuild caches that already match")
    args = parser.parse_args(argv)
    cfg = load_config(args.config_path, args.set)
    for data_cfg in run_configs(cfg):  # the run's dataset, or each of dataset.sources in its own cache folder
        print(
            f"prepared data cache of {data_cfg.target} in {default_cache_dir(data_cfg)}: splits "
            f"{', '.join(args.splits)} at {', '.join(f'{h}x{w}' for h, w in planned_sizes(cfg))}",
            flush=True,
        )
        for split in args.splits:
            for size in planned_sizes(cfg):
                build_cache(data_cfg, split, size, args.workers, args.force, say=lambda msg: print(msg, flush=True))
    print("train.py and eval.py use these caches while the files and sizes match (dataset.cache=false turns that off).")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
