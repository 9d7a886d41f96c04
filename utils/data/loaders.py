"""Builders from config to datasets and loaders: ``build_dataset`` and ``build_loader``, and the items they read."""

import cv2
import torch
from torch.utils.data import DataLoader

from utils.data.cache import find_cache
from utils.data.families import dataset_family
from utils.data.families.base import Item
from utils.data.frames import folder_items
from utils.data.sampler import SeededSampler
from utils.data.segmentation import SegmentationDataset, collate
from utils.data.source_mix import MixedSourceDataset, MixedSourceSampler
from utils.data.transforms import resize_transform, train_transform
from utils.runtime import get_logger

# OpenCV's own thread pool does not survive fork(): a loader worker forked after the main process ran
# a parallel cv2 call (a large resize) can deadlock. The loader workers are the parallelism here.
cv2.setNumThreads(0)


def dataset_items(cfg, split: str, labelled: bool = True) -> list:
    """Items of train, val, test, or all (every labelled image: KITTI's whole training/, elsewhere train + val), from the run's family."""
    return dataset_family(cfg).items(split, labelled)


def build_dataset(
    cfg, labels, split: str, purpose: str, size=None, items=None, use_cache: bool = True
) -> SegmentationDataset:
    """A dataset for one ``purpose``; reads the prepared cache (utils/data/cache.py) when one matches.

    Args:
        cfg: the run Config.
        labels: the run's LabelSet.
        split: train, val or test.
        purpose: ``train`` (augmented), ``val`` (image and mask resized to ``size``), ``eval``
            (image resized, mask kept at full resolution) or ``predict`` (no labels).
        size: [H, W]; defaults to dataset.size.
        items: explicit files (a folder of images) instead of the split's.
        use_cache: False for folders of images and other one-off file lists, which no cache holds.
    """
    size = list(size or cfg.dataset.size)
    labelled = purpose != "predict"
    items = items if items is not None else dataset_items(cfg, split, labelled)
    cache = None
    if cfg.dataset.cache and use_cache:  # a cache is found by its file list, so given items find it too
        cache = find_cache(cfg, split, items, size, get_logger())
        if cache is not None:
            get_logger().info(
                f"{split}: reading the prepared cache {cache.folder} ({len(cache)} images at {size[0]}x{size[1]}, no "
                "PNG decoding)"
            )
        elif purpose == "train":
            get_logger().info(
                "train: decoding the image files (python -m utils.data.prepare --config_path ... makes a cache at "
                f"{size[0]}x{size[1]} that loads several times faster)"
            )
    decode = dataset_family(cfg).read_label
    transform = train_transform(cfg.dataset, size) if purpose == "train" else resize_transform(size)
    return SegmentationDataset(items, labels, decode, transform, resize_mask=purpose in ("train", "val"), cache=cache)


def worker_init(_worker_id: int) -> None:
    cv2.setNumThreads(0)  # one thread per worker: the workers already share out the cores


def build_loader(
    dataset,
    batch_size: int,
    num_workers: int,
    train: bool,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
):
    """Training loaders shuffle with a SeededSampler (call ``loader.sampler.set_epoch``), or draw each sample's source
    by weight from a MixedSourceDataset; others keep order."""
    sampler = None
    if train and isinstance(dataset, MixedSourceDataset):
        lengths = [len(d) for d in dataset.datasets]
        sampler = MixedSourceSampler(lengths, dataset.weights, seed, rank=rank, world_size=world_size)
    elif train:
        sampler = SeededSampler(len(dataset), seed, shuffle=True, rank=rank, world_size=world_size)
    if not train and world_size > 1:
        sampler = SeededSampler(len(dataset), seed, shuffle=False, rank=rank, world_size=world_size, pad=False)
    # The loader's own generator keeps worker start-up from drawing on the global RNG, which the
    # model's dropout uses: a resumed run then sees the same random stream as an uninterrupted one.
    return DataLoader(
        dataset,
        generator=torch.Generator().manual_seed(seed),
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        drop_last=train and len(dataset) >= batch_size * world_size,
        persistent_workers=num_workers > 0,
        worker_init_fn=worker_init,
    )


__all__ = ["build_dataset", "build_loader", "dataset_items", "folder_items", "collate", "SegmentationDataset", "Item"]
