"""The sample's KITTI semantics (data_semantics): <6 digits>_10.png frames in training/image_2 with Cityscapes label
ids in training/semantic, and unlabelled testing/image_2, at a reduced size of KITTI's ~375x1242 (two sizes, as the
release's frames differ by a few pixels)."""

from pathlib import Path

from utils.sample_data.street import render_frame
from utils.visualize import save_gray, save_rgb

# KITTI's own camera (no hood, KITTI's focal length and height) through the road benchmark's street kinds.
STYLES = ("um", "umm", "uu")


def jobs(out: Path, spec, seed) -> list:
    out_jobs = []
    for split, count in (("training", spec.kitti_semantics_train), ("testing", spec.kitti_semantics_test)):
        sizes = spec.kitti_semantics_sizes
        out_jobs += [
            (write_kitti_semantics_frame, (out, split, i, seed("kitti_semantics", split, i), sizes[i % len(sizes)]))
            for i in range(count)
        ]
    return out_jobs


def write_kitti_semantics_frame(root: Path, split: str, index: int, rng, size) -> None:
    """<split>/image_2/<index>_10.png and, for training, semantic/<index>_10.png in Cityscapes label ids."""
    image, label_ids = render_frame(rng, size, STYLES[index % len(STYLES)])
    name = f"{index:06d}_10.png"  # frame 10 of each sequence, as in the release
    save_rgb(root / split / "image_2" / name, image)
    if split == "training":
        save_gray(root / split / "semantic" / name, label_ids)
