"""The sample's CamVid in SegNet's release layout: PNG frames, single-channel class-index annotations for every split
(test included), and train.txt / val.txt / test.txt with the authors' absolute paths."""

from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import name2label

from utils.sample_data.street import render_frame
from utils.visualize import save_gray, save_rgb

# The renderer's Cityscapes labels -> CamVid's 11 classes (0-10), the grouping SegNet's release made of CamVid's 32:
# Building holds walls and bridges, Tree all vegetation, SignSymbol signs and lights, Car every road vehicle but
# trains, Bicyclist the rider with the bicycle. Everything else (the ego vehicle, trains, rail, static) is void (11).
CAMVID_OF_CITYSCAPES = {
    "sky": 0,
    "building": 1,
    "wall": 1,
    "bridge": 1,
    "tunnel": 1,
    "pole": 2,
    "polegroup": 2,
    "road": 3,
    "parking": 3,
    "sidewalk": 4,
    "vegetation": 5,
    "terrain": 5,
    "traffic sign": 6,
    "traffic light": 6,
    "fence": 7,
    "guard rail": 7,
    "car": 8,
    "truck": 8,
    "bus": 8,
    "caravan": 8,
    "trailer": 8,
    "person": 9,
    "rider": 10,
    "bicycle": 10,
    "motorcycle": 10,
}
ID_TO_CAMVID = np.full(256, 11, np.uint8)
for _name, _index in CAMVID_OF_CITYSCAPES.items():
    ID_TO_CAMVID[name2label[_name].id] = _index
# SegNet names frames by CamVid sequence and frame number; each split draws from its own sequences as the release does.
SEQUENCES = {"train": ("0001TP", "0006R0", "0016E5"), "val": ("0016E5",), "test": ("0001TP", "Seq05VD")}
FIRST_FRAME = {"train": 6690, "val": 390, "test": 8550}


def frame_names(split: str, count: int) -> list:
    sequences = SEQUENCES[split]
    return [f"{sequences[i % len(sequences)]}_{FIRST_FRAME[split] + 30 * i:06d}" for i in range(count)]


def jobs(out: Path, spec, seed) -> list:
    out_jobs = []
    for split, count in spec.camvid_splits.items():
        names = frame_names(split, count)
        out_jobs.append((write_split_file, (out, split, names)))
        out_jobs += [
            (write_camvid_frame, (out, split, name, seed("camvid", split, name), spec.camvid_size)) for name in names
        ]
    return out_jobs


def write_split_file(root: Path, split: str, names: list) -> None:
    """``<split>.txt`` as SegNet ships it: each line the image and its annotation on the authors' machine."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"/SegNet/CamVid/{split}/{name}.png /SegNet/CamVid/{split}annot/{name}.png" for name in names]
    (root / f"{split}.txt").write_text("\n".join(lines) + "\n")


def write_camvid_frame(root: Path, split: str, name: str, rng, size) -> None:
    """``<split>/<name>.png`` and its class-index annotation ``<split>annot/<name>.png``."""
    image, label_ids = render_frame(rng, size, "cityscapes")
    save_rgb(root / split / f"{name}.png", image)
    save_gray(root / f"{split}annot" / f"{name}.png", ID_TO_CAMVID[label_ids])
