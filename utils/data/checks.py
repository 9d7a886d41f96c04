"""The data check before the first step: every file of the splits in use decodes, sizes match, label values are in the table.

A truncated image found after an hour of training costs that hour; found here it costs a second per few
hundred files. Files that passed are remembered by path, size and modification time
(``$SEGTOOL_CACHE``, default ``~/.cache/segtool``), so a second run checks only what changed.
"""

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
from tqdm import tqdm

from utils.config.errors import UserError
from utils.data.families import dataset_family
from utils.data.families.label_files import LabelFileError
from utils.data.sources import has_sources, training_sources
from utils.data.subset import labelled_subset
from utils.distributed import barrier, is_main_process
from utils.files import WriteError, atomic_write_text

CACHE_VERSION = 2  # 2: the family's rules are part of the key


def check_item(item, family):
    """Returns why ``item`` cannot be used, or None when it can; ``family`` reads its label and knows its values."""
    image = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
    if image is None:
        return "the image does not decode (empty, truncated or not an image)"
    if item.label is None:
        return None
    try:
        codes = family.read_label(item.label)
    except LabelFileError as exc:
        return f"its label '{item.label}' {exc.reason}"
    if codes.shape[:2] != image.shape[:2]:
        return (
            f"its label '{item.label}' is {codes.shape[1]}x{codes.shape[0]} but the image is "
            f"{image.shape[1]}x{image.shape[0]}"
        )
    return family.label_problem(codes, item.label)


def _stamp(item) -> list:
    stamp = []
    for path in (item.image, item.label):
        if path is not None:
            st = os.stat(path)
            stamp += [str(path), st.st_size, st.st_mtime_ns]
    return stamp


class CheckCache:
    """Paths that passed, with the size and mtime they had; anything changed is checked again."""

    def __init__(self, root, rules: str):
        base = Path(os.environ.get("SEGTOOL_CACHE") or Path.home() / ".cache" / "segtool")
        key = hashlib.sha1(f"{Path(root).resolve()}|{rules}|{CACHE_VERSION}".encode()).hexdigest()[:16]
        self.path = base / "file_checks" / f"{key}.json"
        try:
            self.entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def passed(self, item) -> bool:
        try:
            return self.entries.get(str(item.image)) == _stamp(item)
        except OSError:
            return False

    def remember(self, item, stamp: list) -> None:
        """``stamp`` was taken before the file was read: a file replaced during the check is checked again next time."""
        self.entries[str(item.image)] = stamp

    def save(self) -> None:
        try:  # a read-only home only costs the next run its check again
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(self.entries))
        except (OSError, WriteError):
            pass


def check_files(items: list, family, cache: CheckCache, desc: str, workers: int = 0) -> tuple:
    """Checks ``items`` in parallel threads (OpenCV decodes without the GIL); returns (bad [(item, reason)], stats)."""
    start = time.perf_counter()
    todo = [item for item in items if not cache.passed(item)]
    bad = []
    workers = workers or min(16, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda item: (item, _stamp(item), check_item(item, family)), todo)
        for item, stamp, reason in tqdm(
            results,
            total=len(todo),
            desc=desc,
            disable=not todo or not is_main_process(),
            leave=False,
            dynamic_ncols=True,
        ):
            if reason is None:
                cache.remember(item, stamp)
            else:
                bad.append((item, reason))
    return bad, {"files": len(items), "checked": len(todo), "seconds": time.perf_counter() - start}


def checked_items(cfg, splits, log) -> dict:
    """The files of each split that passed the check; ``dataset.on_bad_file`` says what happens to the rest.

    The main process checks first and fills the cache; the others then find the good files in it (and
    check the bad ones again, so that every process stops with the same message).
    """
    if not is_main_process():
        barrier()
    try:
        return _checked_items(cfg, splits, log)
    finally:
        if is_main_process():
            barrier()


def checked_run_items(cfg, splits, log) -> dict:
    """:func:`checked_items` of the run's data: with ``dataset.sources`` ``{split: {source name: items}}``, each source
    checked as a single-dataset run on it would be."""
    if not has_sources(cfg):
        return checked_items(cfg, splits, log)
    out = {split: {} for split in splits}
    for source in training_sources(cfg):
        log.info(f"source {source.name}: {source.cfg.target} at '{source.cfg.paths.root}'")
        for split, items in checked_items(source.cfg, splits, log).items():
            out[split][source.name] = items
    return out


def _checked_items(cfg, splits, log) -> dict:
    out, bad_all, orphans_seen = {}, [], set()
    family = dataset_family(cfg)
    cache = CheckCache(cfg.paths.root, family.check_key())
    source = family.label_source() if any(split != "test" for split in splits) else None
    if source:
        log.info(source)
    for split in splits:
        labelled = family.has_labels(split)
        items = family.items(split, labelled)
        if split == "train":
            items = labelled_subset(cfg, items, log)
        bad, stats = check_files(items, family, cache, f"checking {split} files")
        if stats["checked"]:
            per_1000 = 1000 * stats["seconds"] / stats["checked"]
            log.info(
                f"checked {stats['checked']} {split} files in {stats['seconds']:.1f} s ({per_1000:.1f} s per 1000 "
                f"files; {stats['files'] - stats['checked']} unchanged since the last check)"
            )
        if labelled:
            _warn_orphans(family, split, items, log, orphans_seen)
        dropped = {item for item, _ in bad}
        out[split] = [item for item in items if item not in dropped]
        bad_all += [(split, item, reason) for item, reason in bad]
    if is_main_process():
        cache.save()
    if bad_all:
        listing = "\n".join(f"  {split}: {item.image}: {reason}" for split, item, reason in bad_all)
        if cfg.dataset.on_bad_file == "stop":
            raise UserError(
                f"{len(bad_all)} bad file(s) in the dataset at '{cfg.paths.root}':\n{listing}\nRe-download or remove "
                "them, or set dataset.on_bad_file: skip to leave them out."
            )
        log.warning(f"warning: leaving out {len(bad_all)} bad file(s) (dataset.on_bad_file: skip):\n{listing}")
    for split, items in out.items():
        if not items:
            raise UserError(
                f"No usable files are left in the {split} split under '{cfg.paths.root}' after leaving out the bad "
                "ones."
            )
    return out


def _warn_orphans(family, split: str, items: list, log, seen: set) -> None:
    orphans = [p for p in family.orphans(items) if p not in seen]
    seen.update(orphans)
    if orphans:
        names = ", ".join(str(p) for p in orphans[:5]) + (", ..." if len(orphans) > 5 else "")
        log.warning(
            f"warning: {len(orphans)} label file(s) of the {split} split have no image and are not used: {names}"
        )
