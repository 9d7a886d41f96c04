"""The sample's folder dataset: a team's own frames in two sequences (PNG and JPEG), value labels at the same
relative paths, and the classes.yaml that describes them."""

from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import name2label

from utils.sample_data.street import render_frame
from utils.visualize import save_gray, save_jpeg, save_rgb


def jobs(out: Path, spec, seed) -> list:
    out_jobs = [(write_folder_classes, (out,))]
    for split, count in spec.folder_splits.items():
        out_jobs += [
            (write_folder_frame, (out, split, i, seed("folder", split, i), spec.folder_size)) for i in range(count)
        ]
    return out_jobs


# The sample's classes.yaml: what a fleet team might label, over the Cityscapes labels the renderer draws.
SAMPLE_CLASSES = [
    ("drivable", 10, [128, 64, 128], ["road"]),
    ("sidewalk", 20, [244, 35, 232], ["sidewalk"]),
    ("agent", 50, None, ["person", "rider", "car", "truck", "bus", "train", "bicycle"]),
    ("scenery", 100, None, None),  # every other labelled pixel
]
SAMPLE_IGNORE = ["unlabeled", "ego vehicle", "rectification border"]


def write_folder_classes(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        "# The built-in sample's classes: label pixel values, in class-index order.",
        "ignore: [0]            # void: unlabeled, the ego vehicle, the rectification border",
        "classes:",
    ]
    for name, value, color, _ in SAMPLE_CLASSES:
        lines.append(
            f"  - {{name: {name}, value: {value}" + (f", color: [{', '.join(map(str, color))}]" if color else "") + "}"
        )
    (root / "classes.yaml").write_text("\n".join(lines) + "\n")


def write_folder_frame(root: Path, split: str, index: int, rng, size) -> None:
    """images/<split>/<sequence>/<frame>.{png,jpg} (two sequences, one of each format) and its value label."""
    image, label_ids = render_frame(rng, size, "cityscapes")
    lut = np.full(256, SAMPLE_CLASSES[-1][1], np.uint8)
    for _, value, _, names in SAMPLE_CLASSES[:-1]:
        lut[[name2label[n].id for n in names]] = value
    lut[[name2label[n].id for n in SAMPLE_IGNORE]] = 0
    sequence, ext = ("drive_a", ".png") if index % 2 == 0 else ("drive_b", ".jpg")
    relative = Path(sequence) / f"frame_{index:06d}"
    path = (root / "images" / split / relative).with_suffix(ext)
    save_rgb(path, image) if ext == ".png" else save_jpeg(path, image)
    if split != "test":
        save_gray((root / "labels" / split / relative).with_suffix(".png"), lut[label_ids])
