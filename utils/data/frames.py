"""Frames from a folder of images (searched recursively) or a video file: what eval.input, the unlabelled source of
semi-supervised training and frame selection read.

Videos are decoded by imageio-ffmpeg (it ships its own ffmpeg binary), frame by frame, never whole in memory.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from utils.config.errors import UserError
from utils.data.families.base import Item, unique_names

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def folder_items(folder, key: str = "eval.input") -> list:
    """Every image under ``folder`` (recursively), in sorted order: an ordered frame folder stays ordered.

    Names are the relative paths without suffix, ``/`` written ``__``; ``key`` names the config key in errors.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"Input folder '{folder}' ({key}) does not exist.")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise UserError(f"Input folder '{folder}' ({key}) holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    items = [Item(p, None, p.relative_to(folder).with_suffix("").as_posix().replace("/", "__")) for p in paths]
    return unique_names(items, "would share an output name (picture and results file)")


def read_video(path):
    """Yields (H, W, 3) uint8 RGB frames; returns nothing else. ``video_info`` gives size, fps and count.

    Closing this generator (``frames.close()``) stops the reading ffmpeg process at once.
    """
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(reader)
        w, h = meta["size"]
        for raw in reader:
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    finally:  # a caller that stops early (an error, a break) must not leave ffmpeg running until garbage collection
        reader.close()


def video_info(path, key: str = "eval.input") -> dict:
    """``size`` (W, H), ``fps`` and ``frames`` (an estimate from the container's duration, or None) of a video;
    a missing file or one ffmpeg cannot open is a :class:`UserError` naming ``key``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Video '{path}' ({key}) does not exist.")
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        reader.close()
    except (RuntimeError, OSError, StopIteration) as exc:
        raise UserError(
            f"Cannot read video '{path}' ({key}): ffmpeg cannot open it or finds no video stream in it "
            f"({_first_line(exc)}). Re-encode it (e.g. ffmpeg -i in.mov -c:v libx264 out.mp4) or remove it."
        ) from None
    fps = float(meta.get("fps") or 25.0)
    # An estimate from the container's duration: counting exactly would decode the whole video twice.
    frames = round(float(meta.get("duration") or 0.0) * fps) or None
    return {"size": tuple(meta["size"]), "fps": fps, "frames": frames}


def _first_line(exc: BaseException) -> str:
    """imageio-ffmpeg's errors carry ffmpeg's whole stderr after their first line: an error is one line."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@dataclass
class Frame:
    """One frame: ``name`` (unique within its source), ``image`` (H, W, 3) uint8 RGB, and ``path`` for a file
    (None for a video frame)."""

    name: str
    image: np.ndarray
    path: Path = None


def iter_frames(source, every: int = 1, key: str = "eval.input"):
    """Yields the :class:`Frame` s of a folder of images (every image, sorted) or of a video (every ``every``-th
    frame, named ``<video stem>_<frame index, 6 digits>``).

    Errors name ``key``: a missing source, a folder without images, an unreadable image, a video that does not
    decode, or one that yields no frame.
    """
    source = Path(source)
    if every < 1:
        raise UserError(f"{key}: every is {every}; it must be 1 or more (every k-th video frame).")
    if source.is_file() and is_video(source):
        video_info(source, key)  # a file ffmpeg cannot open fails here, in one line
        frames, count = read_video(source), 0
        try:
            for index, image in enumerate(frames):
                count += 1
                if index % every == 0:
                    yield Frame(f"{source.stem}_{index:06d}", image)
        except RuntimeError as exc:
            raise UserError(f"Video '{source}' ({key}) does not decode: {_first_line(exc)}") from None
        finally:
            frames.close()
        if count == 0:
            raise UserError(f"Video '{source}' ({key}) has no frame that decodes. Re-encode it, e.g. with ffmpeg -i.")
        return
    if source.is_file():
        raise UserError(
            f"{key} '{source}' is a file but not a video ({', '.join(VIDEO_SUFFIXES)}). Give a video or a folder of "
            "images."
        )
    for item in folder_items(source, key):
        image = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(
                f"Cannot read image '{item.image}' ({key}): the file is empty or not an image. Remove or replace it."
            )
        yield Frame(item.name, cv2.cvtColor(image, cv2.COLOR_BGR2RGB), item.image)
