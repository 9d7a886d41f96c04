"""The unlabelled images of semi-supervised training (the ``unlabeled`` config section): a folder of images, a video
(its every k-th frame extracted once to image files in the run folder), or a split of the run's dataset family read
without its labels. Images among the labelled training items are never unlabelled ones.

:func:`check_unlabeled_source` runs before the run folder is touched (cheap checks only);
:func:`unlabeled_items` builds the list once the labelled items are known.
"""

import hashlib
import json
import math
import shutil
from pathlib import Path

import cv2
from tqdm import tqdm

from utils.config.errors import UserError
from utils.data.families import dataset_family
from utils.data.frames import IMAGE_SUFFIXES, folder_items, is_video, iter_frames, video_info
from utils.distributed import barrier, is_main_process

FRAMES_FOLDER = "unlabeled_frames"  # in the run folder: a video source's extracted frames


def check_unlabeled_source(cfg) -> None:
    """One-line errors for a source that cannot work: source and split both set, a missing path, a folder without
    images, a video ffmpeg cannot open, a split the family does not have. Lists nothing whole."""
    u = cfg.unlabeled
    if u.source is not None and u.split is not None:
        raise UserError(
            f"Config keys 'unlabeled.source' ({u.source!r}) and 'unlabeled.split' ({u.split!r}) are both set; set "
            "one of them (a folder or video, or a split of the dataset) and the other to null."
        )
    if u.split is not None:
        _split_family(cfg)
        return
    if u.source is None:
        return
    source = Path(u.source)
    if source.is_file() and is_video(source):
        video_info(source, "unlabeled.source")
    elif source.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in source.rglob("*")):
            raise UserError(
                f"Unlabelled folder '{source}' (unlabeled.source) holds no images ({', '.join(IMAGE_SUFFIXES)}). Point "
                "unlabeled.source at a folder of images or a video file."
            )
    elif source.is_file():
        raise UserError(
            f"unlabeled.source '{source}' is a file but not a video. Give a folder of images or a video file."
        )
    else:
        raise UserError(
            f"Unlabelled source '{source}' (unlabeled.source) does not exist. Point it at a folder of images or a "
            "video file, or set unlabeled.source: null."
        )


def _split_family(cfg):
    family, split = dataset_family(cfg), cfg.unlabeled.split
    allowed = (*family.splits, "all")
    if split not in allowed:
        raise UserError(
            f"Config key 'unlabeled.split' is {split!r}; target {family.name} has {', '.join(allowed)}. Set one of "
            "them, or use unlabeled.source for a folder or video."
        )
    return family


def unlabeled_batch_size(ratio: float, batch_size: int) -> int:
    """Unlabelled images per process and micro-batch: ``max(1, round(ratio * batch_size))``."""
    return max(1, round(ratio * batch_size))


def unlabeled_items(cfg, labelled: list, min_images: int, log) -> list:
    """The unlabelled :class:`~utils.data.families.base.Item` s, in a fixed order, without the images of ``labelled``
    (compared by resolved path).

    A video's frames are extracted on the main process into ``<paths.output_dir>/unlabeled_frames/`` (the others
    wait), once: a later run or a resume finds them by the video's path, size, modification time and ``every``.
    ``min_images``: one unlabelled batch over all processes; fewer images is an error.
    """
    check_unlabeled_source(cfg)
    u, key = cfg.unlabeled, "unlabeled.split" if cfg.unlabeled.split is not None else "unlabeled.source"
    if u.split is not None:
        items = _split_family(cfg).items(u.split, labelled=False)
    elif is_video(u.source):
        items = folder_items(extract_frames(Path(u.source), u.every, Path(cfg.paths.output_dir), log), key)
    else:
        items = folder_items(u.source, key)
    taken = {Path(item.image).resolve() for item in labelled}
    kept = [item for item in items if Path(item.image).resolve() not in taken]
    where = u.split if u.split is not None else u.source
    if not kept:
        raise UserError(
            f"{key} '{where}' holds only images that are among the labelled training items ({len(items)}), so no "
            "unlabelled image is left. Point it at other images, or train on a labelled subset of the split."
        )
    if len(kept) < min_images:
        raise UserError(
            f"{key} '{where}' leaves {len(kept)} unlabelled images, fewer than one unlabelled batch over all processes "
            f"({min_images}: max(1, round(unlabeled.ratio * batch_size)) per process). Add images or lower "
            "unlabeled.ratio or training.batch_size."
        )
    return kept


def frames_folder(video: Path, every: int, run_folder: Path) -> Path:
    """Where the frames of ``video`` taken every ``every`` frames live: named by the video's resolved path, byte size,
    modification time and ``every``, so a changed video is extracted again."""
    st = video.stat()
    key = json.dumps([str(video.resolve()), st.st_size, st.st_mtime_ns, every])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return run_folder / FRAMES_FOLDER / f"{video.stem}_every{every}_{digest}"


def extract_frames(video: Path, every: int, run_folder: Path, log) -> Path:
    """The folder of ``video``'s every ``every``-th frame as PNG files, extracted now unless a run did it before.

    The main process writes them into a ``.partial`` folder renamed when complete (a killed extraction starts
    over); the other processes wait for it at a barrier.
    """
    folder = frames_folder(video, every, run_folder)
    if is_main_process() and not folder.is_dir():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        estimate = video_info(video, "unlabeled.source")["frames"]
        total = math.ceil(estimate / every) if estimate else None
        try:
            frames = iter_frames(video, every, "unlabeled.source")
            for frame in tqdm(frames, total=total, desc=f"extracting {video.name}", leave=False, dynamic_ncols=True):
                path = partial / f"{frame.name}.png"
                if not cv2.imwrite(
                    str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]
                ):
                    raise UserError(f"Cannot write the video frame '{path}' (unlabeled.source): is the disk full?")
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        partial.rename(folder)
        log.info(f"unlabeled: extracted {len(list(folder.iterdir()))} frames of '{video}' (every {every}) to {folder}")
    barrier()
    return folder


def describe_source(cfg, count: int) -> str:
    """The run's start line about its unlabelled images: the source, how many, the teacher."""
    u = cfg.unlabeled
    if u.split is not None:
        what = f"split {u.split} of {cfg.target} without labels"
    elif is_video(u.source):
        what = f"video {u.source}, " + (f"every {u.every} frames" if u.every > 1 else "every frame")
    else:
        what = f"folder {u.source}"
    teacher = f"ema (decay {u.ema_decay:g})" if u.teacher == "ema" else "self"
    start = f", from step {u.start_iters}" if u.start_iters else ""
    per_class = f" (or each class's surest {u.keep_per_class:g})" if u.keep_per_class else ""
    return (
        f"unlabeled: {count} images ({what}); teacher {teacher}, threshold {u.threshold:g}{per_class}, weight {u.weight:g}"
        f"{start}, ratio {u.ratio:g}"
    )
