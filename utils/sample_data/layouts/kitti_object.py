"""The sample's KITTI 3D object benchmark folder: ``{training,testing}/{image_2,calib,velodyne}/<6 digits>.*`` (calib
files in the object benchmark's format, without Tr_cam_to_road), with the true point labels in velodyne_labels/.
It has no family of its own: paint_points.py paints it (paint.root=<sample>/kitti_object)."""

from pathlib import Path

from utils.data.kitti_layout import CATEGORIES
from utils.sample_data.layouts.kitti import SAMPLE_SIZES, write_camera_and_scan
from utils.sample_data.street import make_street


def jobs(out: Path, spec, seed) -> list:
    counts = (("training", spec.kitti_object_train), ("testing", spec.kitti_object_test))
    return [
        (write_object_frame, (out, split, i, seed("object", split, i))) for split, count in counts for i in range(count)
    ]


def street_kind(index: int) -> tuple:
    """(street category, image size) of frame ``index``: the road sample's streets and sizes, in turn."""
    return CATEGORIES[index % len(CATEGORIES)], SAMPLE_SIZES[index % len(SAMPLE_SIZES)]


def write_object_frame(root: Path, split: str, index: int, rng) -> None:
    category, size = street_kind(index)
    write_camera_and_scan(
        make_street(rng, size[0], size[1], category), size, root / split, f"{index:06d}", road_calib=False
    )
