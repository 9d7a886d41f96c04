"""The labelled part of the training split: all of it, a seeded fraction, or the images a file list names.

Semi-supervised papers train on a fraction of Cityscapes' train labels (UniMatch's 1/16, 1/8, ... splits) and use
the rest without labels; ``dataset.train_fraction`` draws such a subset with a seed, ``dataset.train_list`` reads one
from a file. The unlabelled source's ``split: train`` then reads the rest (:mod:`utils.data.unlabeled`).
"""

from pathlib import Path

import numpy as np

from utils.config.errors import UserError
from utils.files import atomic_write_text


def read_train_list(path, root) -> list:
    """The image paths a list file names, resolved against ``root`` (paths.root), in the file's order.

    One image per line, relative to paths.root or absolute; a second column (UniMatch's ``image label`` lines) is
    ignored; blank lines and ``#`` comments are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"dataset.train_list '{path}' does not exist. Give a text file with one image path per line.")
    images = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            image = Path(line.split()[0])
            images.append(image if image.is_absolute() else Path(root) / image)
    if not images:
        raise UserError(f"dataset.train_list '{path}' names no image. Give one image path per line.")
    return images


def labelled_subset(cfg, items: list, log=None) -> list:
    """The training items that keep their labels (in their split order): ``items`` itself unless
    ``dataset.train_fraction`` < 1 or ``dataset.train_list`` is set.

    Raises:
        UserError: a listed image that is not in the training split, or both keys set.
    """
    d = cfg.dataset
    if not is_labelled_subset(cfg):
        return items
    if d.train_list is not None and d.train_fraction < 1:
        raise UserError(
            f"dataset.train_list and dataset.train_fraction ({d.train_fraction:g}) both choose the labelled images; "
            "set one of them (train_fraction: 1.0 with a list)."
        )
    if d.train_list is not None:
        by_image = {Path(item.image).resolve(): item for item in items}
        listed = read_train_list(d.train_list, cfg.paths.root)
        missing = [p for p in listed if p.resolve() not in by_image]
        if missing:
            raise UserError(
                f"dataset.train_list '{d.train_list}' names {len(missing)} image(s) that are not in the train split "
                f"under '{cfg.paths.root}' (paths.root), e.g. '{missing[0]}'. Write paths relative to paths.root."
            )
        chosen = {p.resolve() for p in listed}
        subset = [item for item in items if Path(item.image).resolve() in chosen]
        how = f"dataset.train_list {d.train_list}"
    else:
        count = max(1, round(d.train_fraction * len(items)))
        # The draw depends only on the seed and the sorted image names, not on the listing order of the file system.
        order = sorted(range(len(items)), key=lambda i: str(items[i].image))
        picked = np.random.default_rng(d.train_fraction_seed).permutation(len(items))[:count]
        keep = {order[i] for i in picked}
        subset = [item for i, item in enumerate(items) if i in keep]
        how = f"dataset.train_fraction {d.train_fraction:g}, seed {d.train_fraction_seed}"
    if log is not None:
        log.info(f"train: {len(subset)} of {len(items)} images keep their labels ({how})")
    return subset


def write_train_list(items: list, root, path) -> None:
    """The labelled subset as a list file ``dataset.train_list`` reads back: one image per line, relative to root."""
    root = Path(root).resolve()
    lines = []
    for item in items:
        image = Path(item.image).resolve()
        lines.append(image.relative_to(root).as_posix() if image.is_relative_to(root) else str(image))
    atomic_write_text(path, "".join(f"{line}\n" for line in lines))


def is_labelled_subset(cfg) -> bool:
    """Whether only part of the train split keeps its labels."""
    return cfg.dataset.train_list is not None or cfg.dataset.train_fraction < 1
