"""python -m utils.data.inspect --config_path F [--set ...] [--json OUT] [--out DIR] [--samples N] [--workers N]

What a dataset holds, read from its own files as the run's family reads them: for each split, the image
count and sizes, each class's share of the labelled pixels and of the images it appears in, the ignored
share, and class weights for ``training.class_weights`` by two standard rules from the train split:

- inverse log frequency (ENet): w_c = 1 / ln(1.02 + p_c), p_c the class's share of labelled pixels;
- median-frequency balancing (SegNet): w_c = median(f) / f_c, f_c = pixels of c / labelled pixels of the
  images where c occurs (a class that never occurs gets 0).

``inspect.png`` (in --out, default paths.output_dir) draws a few train samples with their labels over them.
With ``dataset.sources`` each source is reported in the run's taxonomy, then the mix (utils/data/inspect_sources.py).
"""

import argparse
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from utils.config.cli import add_config_arguments, run_main
from utils.config.errors import UserError
from utils.config.loading import load_config
from utils.data.families import dataset_family
from utils.data.inspect_sources import merged_stats, source_families
from utils.data.segmentation import read_rgb
from utils.data.sources import has_sources
from utils.files import atomic_write_text, format_number, to_json
from utils.labels import IGNORE_INDEX
from utils.visualize import overlay, save_rgb, side_by_side, stack_rows

IGNORED_GREY = (128, 128, 128)
PANEL_HEIGHT = 160


def image_size(path: Path) -> tuple:
    """(H, W) from the file's header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except OSError:
        raise UserError(f"Cannot read image '{path}': the file is missing, empty or not an image.") from None


def split_stats(family, items: list, workers: int) -> dict:
    """Pixel counts per class, images per class and image sizes of one split's files."""
    labels = family.labels()
    n = labels.num_classes

    known = np.zeros(256, bool)
    known[family.known_values()] = True

    def one(item):
        size = image_size(item.image)
        if item.label is None:
            return size, None
        codes = family.read_label(item.label)
        counts = np.bincount(labels.encode(codes).ravel(), minlength=256)
        counts[IGNORE_INDEX] -= int((~known[codes]).sum())  # values outside the table are counted apart, not as ignored
        return size, np.append(counts, (~known[codes]).sum())

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, items))
    sizes = [size for size, _ in rows]
    stats = {"images": len(items), "sizes": Counter(sizes), "labelled": False}
    counted = [c for _, c in rows if c is not None]
    if counted:
        counts = np.stack(counted).astype(np.int64)  # (images, 257): class indices, ignored at 255, unknown values last
        per_class, ignored = counts[:, :n], counts[:, IGNORE_INDEX]
        labelled = per_class.sum(1)
        present = per_class > 0
        stats.update(
            labelled=True,
            pixels=per_class.sum(0),
            ignored=int(ignored.sum()),
            unknown=int(counts[:, -1].sum()),
            total=int(counts.sum()),
            present=present.sum(0),
            # labelled pixels of the images where each class occurs, for median-frequency balancing
            pixels_where_present=(present * labelled[:, None]).sum(0),
        )
    return stats


def class_weights(stats: dict) -> dict:
    """Both rules' weights from one split's counts, rounded to 4 digits (what a config file would hold)."""
    pixels = stats["pixels"].astype(np.float64)
    share = pixels / max(pixels.sum(), 1)
    enet = 1.0 / np.log(1.02 + share)
    freq = np.divide(
        pixels, stats["pixels_where_present"], out=np.zeros_like(pixels), where=stats["pixels_where_present"] > 0
    )
    occurring = freq[freq > 0]
    median = np.divide(np.median(occurring) if len(occurring) else 0.0, freq, out=np.zeros_like(freq), where=freq > 0)
    return {"enet": [round(float(w), 4) for w in enet], "median_frequency": [round(float(w), 4) for w in median]}


def report(labels, split: str, stats: dict) -> tuple:
    """(printed text, the split's JSON entry: {class name: {share, images, image_share}})."""
    sizes = stats["sizes"]
    by_area = sorted(sizes, key=lambda s: (s[0] * s[1], s))
    (h, w), count = sizes.most_common(1)[0]
    lines = [
        f"{split}: {stats['images']} images, sizes {by_area[0][0]}x{by_area[0][1]} (min) to "
        f"{by_area[-1][0]}x{by_area[-1][1]} (max), most common {h}x{w} ({count} images)"
    ]
    if not stats["labelled"]:
        return "\n".join(lines + ["  no labels"]), {}
    labelled_pixels = max(int(stats["pixels"].sum()), 1)
    lines.append(f"  ignored: {stats['ignored'] / max(stats['total'], 1):.2%} of all pixels")
    if stats["unknown"]:
        lines.append(
            f"  {stats['unknown'] / max(stats['total'], 1):.2%} of all pixels hold values outside the label table "
            "(the data check names the files)"
        )
    entry = {}
    for c, name in enumerate(labels.names):
        entry[name] = {
            "share": float(stats["pixels"][c] / labelled_pixels),
            "images": int(stats["present"][c]),
            "image_share": float(stats["present"][c] / stats["images"]),
        }
    return "\n".join(lines), entry


def class_table(labels, entries: dict, weights: dict) -> str:
    splits = list(entries)
    head = (
        "| class | " + " | ".join(f"{s} pixels | {s} images" for s in splits) + " | ENet weight | median-freq weight |"
    )
    rule = "|---|" + "---:|---:|" * len(splits) + "---:|---:|"
    rows = [head, rule]
    for c, name in enumerate(labels.names):
        cells = [f"{entries[s][name]['share']:.2%} | {entries[s][name]['image_share']:.0%}" for s in splits]
        rows.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {format_number(weights['enet'][c])} | {format_number(weights['median_frequency'][c])} |"
        )
    return "\n".join(rows)


def sample_picture(family, items: list, count: int) -> np.ndarray:
    """Rows of image | labels over the image for ``count`` evenly spaced items, and a legend of the classes drawn."""
    labels = family.labels()
    palette = labels.palette()
    palette[IGNORE_INDEX] = IGNORED_GREY
    chosen = [items[i] for i in np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(int)]
    rows, seen = [], set()
    for item in chosen:
        image = read_rgb(item.image)
        scale = PANEL_HEIGHT / image.shape[0]
        size = (max(1, round(image.shape[1] * scale)), PANEL_HEIGHT)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        classes = cv2.resize(labels.encode(family.read_label(item.label)), size, interpolation=cv2.INTER_NEAREST)
        seen |= set(np.unique(classes).tolist())
        rows.append(side_by_side(image, overlay(image, classes, palette, 0.6)))
    rows.append(
        _legend(
            [(labels.names[c], palette[c]) for c in sorted(seen) if c < labels.num_classes]
            + [("ignored", IGNORED_GREY)],
            rows[0].shape[1],
        )
    )
    return stack_rows(rows)


def _legend(entries: list, width: int) -> np.ndarray:
    """Colour swatches with class names, wrapped to ``width``."""
    cell_w, cell_h = 270, 22
    per_row = max(1, width // cell_w)
    rows = -(-len(entries) // per_row)
    canvas = np.full((rows * cell_h + 4, max(width, cell_w), 3), 255, np.uint8)
    for i, (name, color) in enumerate(entries):
        x, y = (i % per_row) * cell_w + 4, (i // per_row) * cell_h + 4
        cv2.rectangle(canvas, (x, y), (x + 16, y + 16), tuple(int(v) for v in color), -1)
        cv2.putText(canvas, name[:38], (x + 22, y + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def inspect_dataset(family, splits=("train", "val", "test"), workers: int = 8, say=print) -> tuple:
    """Reads every file of ``splits`` (test may be absent; train and val are required).

    Returns (the JSON report, the train items, for the picture, and the counts of each split).
    """
    stats_by_split, items_by_split = {}, {}
    for split in splits:
        try:
            items = family.items(split)
        except UserError:
            if split != "test":
                raise  # a missing label or a misnamed file in train or val is the user's to hear about
            say(f"{split}: not in this dataset")
            continue
        stats_by_split[split], items_by_split[split] = split_stats(family, items, workers), items
    result = summarize(family.labels(), stats_by_split, say)
    return {**result, "target": family.name}, items_by_split["train"], stats_by_split


def summarize(labels, stats_by_split: dict, say=print) -> dict:
    """The report of each split's counts (printed with ``say``) and the class weights from train, as JSON."""
    out, summary = {}, {}
    for split, stats in stats_by_split.items():
        text, out[split] = report(labels, split, stats)
        say(text)
        sizes = stats["sizes"]
        summary[split] = {
            "images": stats["images"],
            "sizes": {
                "min": list(min(sizes, key=lambda s: (s[0] * s[1], s))),
                "max": list(max(sizes, key=lambda s: (s[0] * s[1], s))),
                "most_common": list(sizes.most_common(1)[0][0]),
            },
        }
        if stats["labelled"]:
            summary[split]["ignored_share"] = stats["ignored"] / max(stats["total"], 1)
            summary[split]["unknown_share"] = stats["unknown"] / max(stats["total"], 1)
    weights = class_weights(stats_by_split["train"])
    labelled = {s: e for s, e in out.items() if e}
    say(class_table(labels, labelled, weights))
    say(f"training.class_weights (from train), ENet: {weights['enet']}")
    say(f"training.class_weights (from train), median frequency: {weights['median_frequency']}")
    return {**out, "class_weights": {"from": "train", **weights}, "splits": summary, "classes": list(labels.names)}


def inspect_sources(cfg, workers: int, say=print) -> tuple:
    """Each of dataset.sources in the run's taxonomy, then the mix as training draws it (utils/data/inspect_sources.py).

    Returns (the JSON report {sources: {name: report}, merged: report}, the picture's rows of every source)."""
    per_source, stats, rows, weights = {}, [], [], []
    for name, weight, family in source_families(cfg):
        say(f"\n== source {name}: {family.name} at '{family.root}' ==")
        per_source[name], train, split_counts = inspect_dataset(family, workers=workers, say=say)
        stats.append(split_counts)
        weights.append(weight)
        rows.append(sample_picture(family, train, 2))
    say("\n== merged: train as training draws it (each source by its weight), val each source alike ==")
    splits = [split for split in ("train", "val") if all(split in s for s in stats)]
    # val's mean mIoU weighs every source the same (utils/training/validation.py), so its merged counts do too
    merged = {
        split: merged_stats([s[split] for s in stats], weights if split == "train" else [1.0] * len(stats))
        for split in splits
    }
    result = summarize(family.labels(), merged, say)
    return {"sources": per_source, "merged": result}, rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.add_argument("--out", help="folder for inspect.png (default: paths.output_dir)")
    parser.add_argument("--samples", type=int, default=4, help="train samples drawn in inspect.png (default 4)")
    parser.add_argument("--workers", type=int, default=8, help="reading threads (default 8)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config_path, args.set)
    picture = Path(args.out or cfg.paths.output_dir) / "inspect.png"
    say = lambda text: print(text, flush=True)  # noqa: E731
    if has_sources(cfg):
        result, rows = inspect_sources(cfg, max(1, args.workers), say)
        save_rgb(picture, stack_rows(rows, gap=12))
    else:
        family = dataset_family(cfg)
        result, train, _ = inspect_dataset(family, workers=max(1, args.workers), say=say)
        save_rgb(picture, sample_picture(family, train, max(1, args.samples)))
    print(f"wrote {picture}")
    if args.json:
        atomic_write_text(Path(args.json), to_json(result))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
