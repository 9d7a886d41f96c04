"""The sample's BDD100K (10K images): JPEG frames named by video id, single-channel train-id masks and the same train
ids as palette colormaps, as the release ships both."""

from pathlib import Path

from utils.data.families.bdd100k import ID_TO_TRAIN
from utils.data.families.cityscapes import TRAIN_LABELS
from utils.sample_data.street import render_frame
from utils.visualize import save_gray, save_jpeg, save_palette_png


def jobs(out: Path, spec, seed) -> list:
    out_jobs = []
    for split, count in spec.bdd_splits.items():
        out_jobs += [(write_bdd_frame, (out, split, i, seed("bdd", split, i), spec.bdd_size)) for i in range(count)]
    return out_jobs


def write_bdd_frame(root: Path, split: str, index: int, rng, size) -> None:
    """One dashcam frame as images/10k/<split>/<name>.jpg and, for train and val, its train-id mask and colormap."""
    image, label_ids = render_frame(rng, size, "cityscapes")
    name = f"{rng.integers(1 << 32):08x}-{rng.integers(1 << 32):08x}"  # BDD100K names frames by video id
    base = root / "bdd100k"
    save_jpeg(base / "images" / "10k" / split / f"{name}.jpg", image)
    if split != "test":
        train_ids = ID_TO_TRAIN[label_ids]
        save_gray(base / "labels" / "sem_seg" / "masks" / split / f"{name}.png", train_ids)
        colors = [lab.color for lab in TRAIN_LABELS]  # index 255 (ignored) stays black
        save_palette_png(base / "labels" / "sem_seg" / "colormaps" / split / f"{name}.png", train_ids, colors)
