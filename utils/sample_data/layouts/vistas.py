"""The sample's Mapillary Vistas: config_v1.2.json and config_v2.0.json in the release's format (a 21/24-class
stand-in for the real 66/124), JPEGs of several sizes, and palette PNGs of config indices for both versions."""

import json
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import name2label

from utils.data.families.vistas import SPLITS
from utils.sample_data.street import render_frame
from utils.visualize import save_jpeg, save_palette_png


def jobs(out: Path, spec, seed) -> list:
    out_jobs = [(write_vistas_configs, (out,))]
    for split, count in spec.vistas_splits.items():
        sizes = spec.vistas_sizes
        out_jobs += [
            (write_vistas_frame, (out, split, i, seed("vistas", split, i), sizes[i % len(sizes)])) for i in range(count)
        ]
    return out_jobs


# The sample's classes, in the release's format and naming; the real configs hold 66 (v1.2) and 124 (v2.0).
# (name, readable, colour, instances, evaluate, the Cityscapes labels the sample's renderer draws for it)
_SAMPLE_V12 = [
    ("animal--bird", "Bird", [165, 42, 42], True, True, []),
    ("construction--flat--road", "Road", [128, 64, 128], False, True, ["road"]),
    ("construction--flat--sidewalk", "Sidewalk", [244, 35, 232], False, True, ["sidewalk"]),
    ("construction--structure--building", "Building", [70, 70, 70], False, True, ["building"]),
    ("human--person", "Person", [220, 20, 60], True, True, ["person"]),
    ("human--rider--bicyclist", "Bicyclist", [255, 0, 0], True, True, ["rider"]),
    ("nature--sky", "Sky", [70, 130, 180], False, True, ["sky"]),
    ("nature--terrain", "Terrain", [152, 251, 152], False, True, ["terrain"]),
    ("nature--vegetation", "Vegetation", [107, 142, 35], False, True, ["vegetation"]),
    ("object--support--pole", "Pole", [153, 153, 153], True, True, ["pole"]),
    ("object--traffic-light", "Traffic Light", [250, 170, 30], True, True, ["traffic light"]),
    ("object--traffic-sign--front", "Traffic Sign (Front)", [220, 220, 0], True, True, ["traffic sign"]),
    ("object--vehicle--bicycle", "Bicycle", [119, 11, 32], True, True, ["bicycle"]),
    ("object--vehicle--bus", "Bus", [0, 60, 100], True, True, ["bus"]),
    ("object--vehicle--car", "Car", [0, 0, 142], True, True, ["car"]),
    ("object--vehicle--on-rails", "On Rails", [0, 80, 100], True, True, ["train"]),
    ("object--vehicle--truck", "Truck", [0, 0, 70], True, True, ["truck"]),
    ("void--ego-vehicle", "Ego Vehicle", [120, 10, 10], False, False, ["ego vehicle"]),
    ("void--ground", "Ground", [81, 0, 81], False, True, ["ground"]),
    ("void--static", "Static", [111, 74, 0], False, True, ["static"]),
    ("void--unlabeled", "Unlabeled", [0, 0, 0], False, False, ["unlabeled", "rectification border"]),
]
# v2.0 splits some classes and adds others, so its indices differ from v1.2's.
_SAMPLE_V20 = sorted(
    _SAMPLE_V12[:-1]
    + [
        ("construction--flat--road-shoulder", "Road Shoulder", [110, 110, 110], False, True, []),
        ("marking--continuous--solid", "Lane Marking - Continuous (Solid)", [255, 255, 255], False, True, []),
        ("object--vehicle--vehicle-group", "Vehicle Group", [0, 0, 142], False, True, []),
    ]
) + [_SAMPLE_V12[-1]]
SAMPLE_CONFIGS = {"v1.2": _SAMPLE_V12, "v2.0": _SAMPLE_V20}


def _sample_lut(entries: list) -> np.ndarray:
    """Cityscapes label id -> index in ``entries``; labels the table does not list become its unlabeled class."""
    lut = np.full(256, len(entries) - 1, np.uint8)
    for i, entry in enumerate(entries):
        for label in entry[5]:
            lut[name2label[label].id] = i
    return lut


def write_vistas_configs(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for version, entries in SAMPLE_CONFIGS.items():
        labels = [
            {"color": c, "instances": inst, "readable": r, "name": n, "evaluate": ev}
            for n, r, c, inst, ev, _ in entries
        ]
        (root / f"config_{version}.json").write_text(
            json.dumps({"labels": labels, "version": version, "mapping": "public"}, indent=1)
        )


def write_vistas_frame(root: Path, split: str, index: int, rng, size) -> None:
    """One image as <split>/images/<key>.jpg and, for training and validation, its v1.2 and v2.0 labels."""
    image, label_ids = render_frame(rng, size, "cityscapes")
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    key = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 22))  # Vistas' keys are 22 URL-safe characters
    folder = root / SPLITS[split]
    save_jpeg(folder / "images" / f"{key}.jpg", image)
    if split != "test":
        for version, entries in SAMPLE_CONFIGS.items():
            save_palette_png(
                folder / version / "labels" / f"{key}.png", _sample_lut(entries)[label_ids], [e[2] for e in entries]
            )
