"""The three KITTI layouts paint_points.py reads, recognised from the folder alone, and the frames of each.

- ``road``, the road benchmark: ``data_road/<split>/image_2/<name>.png`` with ``calib/<name>.txt`` and the scan
  ``velodyne/<name>.bin``, found under ``data_road/<split>/`` or, as ``data_road_velodyne.zip`` unpacks,
  ``data_road_velodyne/<split>/`` (the root may also be data_road itself).
- ``object``, the 3D object benchmark: ``<split>/{image_2,calib,velodyne}/<6 digits>.{png,txt,bin}``.
- ``raw``, raw recordings: ``<date>/<date>_drive_<n>_sync/image_02/data/<10 digits>.png`` with the scan
  ``velodyne_points/data/<10 digits>.bin`` and the date folder's ``calib_cam_to_cam.txt`` and
  ``calib_velo_to_cam.txt``; the root is a drive, a date folder or the folder holding date folders. A recording
  has no split; its frames are named ``<date>_drive_<n>_<10 digits>``.

True point labels, where the sample has them, lie beside the scans: ``velodyne_labels/<name>.label`` (road,
object) or ``velodyne_labels/data/<10 digits>.label`` (raw).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from utils.config.errors import UserError
from utils.data.kitti_calib import KittiCalib, calib_path_for, read_calib, read_raw_calib
from utils.data.kitti_layout import NAME, OBJECT_NAME, RAW_DRIVE_GLOB, data_road_base

SPLITS = ("training", "testing")
LAYOUT_NAMES = {"road": "the road benchmark", "object": "the object benchmark", "raw": "a raw recording"}
UNKNOWN = (
    "holds none of the three KITTI layouts paint_points.py reads: the road benchmark "
    "(data_road/<split>/{image_2,calib,velodyne}/<name>.*), the object benchmark "
    "(<split>/{image_2,calib,velodyne}/<6 digits>.*) or a raw recording "
    "(<date>/<date>_drive_<n>_sync/{image_02,velodyne_points}/data/<10 digits>.* with the date folder's "
    "calib_cam_to_cam.txt and calib_velo_to_cam.txt). Set paint.root to such a folder "
    "(e.g. --set paint.root=data/kitti)."
)
SCANS_HELP = {
    "road": "KITTI ships the road benchmark's scans as data_road_velodyne.zip "
    "(https://www.cvlibs.net/datasets/kitti/eval_road.php): unzip it beside data_road/ so that "
    "data_road_velodyne/<split>/velodyne/<name>.bin (or data_road/<split>/velodyne/) exists.",
    "object": "KITTI ships the object benchmark's scans and calib files as data_object_velodyne.zip and "
    "data_object_calib.zip (https://www.cvlibs.net/datasets/kitti/eval_object.php): unzip them where "
    "data_object_image_2.zip went, so that <split>/velodyne/<name>.bin and <split>/calib/<name>.txt exist.",
    "raw": "A raw recording's scans come with its synced+rectified zip (<date>_drive_<n>_sync.zip) as "
    "velodyne_points/data/<10 digits>.bin.",
}


@dataclass(frozen=True)
class Frame:
    name: str
    image: Path
    calib: KittiCalib
    velodyne: Path
    truth: Optional[Path]


@dataclass(frozen=True)
class Frames:
    """What :func:`find_frames` found: the layout (``road``, ``object`` or ``raw``), the frames with an image, a
    calibration and a scan, and the names of the images that lack one of them."""

    layout: str
    frames: list
    missing: list


def find_layout(root) -> Optional[str]:
    """Which layout ``root`` holds (``road``, ``object`` or ``raw``); None when it holds none of them."""
    root = Path(root)
    if any(_road_base(root, split) is not None for split in SPLITS):
        return "road"
    if any(_object_images(root, split) for split in SPLITS):
        return "object"
    return "raw" if raw_drives(root) else None


def find_frames(root, split: str, key: str = "paint.root") -> Frames:
    """The frames under ``root`` (``key`` names the config key it came from); ``split`` (training or testing) for
    the road and object benchmarks, unused by a raw recording."""
    root = Path(root)
    layout = find_layout(root)
    if layout is None:
        raise UserError(f"'{root}' ({key}) {'is not a folder, so it ' if not root.is_dir() else ''}{UNKNOWN}")
    listed = {"road": _road_frames, "object": _object_frames, "raw": _raw_frames}[layout](root, split)
    frames = [frame for _, frame in listed if frame is not None]
    if not frames:
        raise UserError(
            f"No frame of {LAYOUT_NAMES[layout]} under '{root}' has both a calibration and a Velodyne scan. "
            f"{SCANS_HELP[layout]}"
        )
    return Frames(layout, frames, [name for name, frame in listed if frame is None])


def raw_drives(root) -> list:
    """The drive folders (``*_drive_*_sync`` with image_02/data) that ``root`` is, or holds, or holds in its date
    folders."""
    root = Path(root)
    candidates = [root, *sorted(root.glob(RAW_DRIVE_GLOB)), *sorted(root.glob(f"*/{RAW_DRIVE_GLOB}"))]
    return [d for d in candidates if d.match(RAW_DRIVE_GLOB) and (d / "image_02" / "data").is_dir()]


def _road_base(root: Path, split: str) -> Optional[Path]:
    """data_road's folder for ``split``; ``root/<split>/image_2`` counts as the road benchmark's unless its images
    carry the object benchmark's names."""
    base = data_road_base(root, split)
    if base == root and _object_images(root, split) and not any(NAME.fullmatch(p.stem) for p in _images(base, split)):
        return None
    return base


def _images(base: Path, split: str) -> list:
    return sorted((base / split / "image_2").glob("*.png"))


def _object_images(root: Path, split: str) -> list:
    return [p for p in _images(root, split) if OBJECT_NAME.fullmatch(p.stem)]


def _road_frames(root: Path, split: str) -> list:
    """(name, Frame or None where the calib file or the scan is missing) per image of ``split``; so do the others."""
    base = _road_base(root, split)
    if base is None:
        raise UserError(
            f"No data_road/{split}/image_2 under '{root}' (paint.root, else paths.root): {_other_split(split)} "
            "Set paint.split to a split the folder has."
        )
    scans = [base / split / "velodyne", base.parent / "data_road_velodyne" / split / "velodyne"]
    return [_benchmark_frame(image, scans, base / split / "velodyne_labels") for image in _images(base, split)]


def _object_frames(root: Path, split: str) -> list:
    images = _object_images(root, split)
    if not images:
        raise UserError(
            f"No {split}/image_2/<6 digits>.png under '{root}' (paint.root, else paths.root), an object benchmark "
            f"folder: {_other_split(split)} Set paint.split to a split the folder has."
        )
    return [_benchmark_frame(image, [root / split / "velodyne"], root / split / "velodyne_labels") for image in images]


def _other_split(split: str) -> str:
    return f"paint.split is '{split}'; KITTI's benchmarks have {' and '.join(SPLITS)}."


def _benchmark_frame(image: Path, scans: list, labels: Path) -> tuple:
    """One road or object benchmark image: its scan is the first of ``scans/<name>.bin`` that exists."""
    scan = next((d / f"{image.stem}.bin" for d in scans if (d / f"{image.stem}.bin").is_file()), None)
    calib = calib_path_for(image)
    if scan is None or not calib.is_file():
        return image.stem, None
    truth = labels / f"{image.stem}.label"
    return image.stem, Frame(image.stem, image, read_calib(calib), scan, truth if truth.is_file() else None)


def _raw_frames(root: Path, split: str) -> list:
    listed = []
    for drive in raw_drives(root):
        calib = read_raw_calib(drive.parent)  # one calibration per date folder
        prefix = drive.name.removesuffix("_sync")
        for image in sorted((drive / "image_02" / "data").glob("*.png")):
            scan = drive / "velodyne_points" / "data" / f"{image.stem}.bin"
            truth = drive / "velodyne_labels" / "data" / f"{image.stem}.label"
            name = f"{prefix}_{image.stem}"
            frame = Frame(name, image, calib, scan, truth if truth.is_file() else None) if scan.is_file() else None
            listed.append((name, frame))
    return listed
