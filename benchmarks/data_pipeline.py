"""data_pipeline: training samples per second of one loader worker at 512x1024, from 1024x2048 Cityscapes PNGs.

Ours with the prepared cache, ours decoding the PNGs, and the loader a torchvision user writes:
``torchvision.datasets.Cityscapes`` (PIL decoding) with torchvision.transforms.v2 doing the same work as
ours (resize to 512x1024, random scale 0.5-2.0, pad and crop back to 512x1024, flip, colour jitter,
normalise; labels mapped to categories). Each contender runs in this process on one thread, which is
what one DataLoader worker gets; samples are drawn alternately so that machine load hits all alike.
"""

import argparse
import time

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, tv_tensors
from torchvision.transforms import v2

from benchmarks.common import full_size_sample, result, side_by_side, threads
from utils.config.loading import config_from_dict
from utils.data.families import build_labels
from utils.data.loaders import build_dataset, collate, worker_init
from utils.data.prepare import build_cache
from utils.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from utils.labels import IGNORE_INDEX


def torchvision_dataset(root, size, labels):
    """torchvision.datasets.Cityscapes with a v2 pipeline equivalent to ours, labels mapped by the same table."""
    h, w = size
    pipeline = v2.Compose(
        [
            v2.Resize((h, w)),
            v2.RandomResize(h // 2, h * 2),  # the shorter side to 0.5-2.0 times h, as scale_range [0.5, 2.0]
            v2.RandomCrop(
                (h, w), pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX, "others": 0}
            ),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(0.2, 0.2, 0.2, 0.02),
            v2.ToImage(),
            v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )

    def transforms(image, target):
        mask = tv_tensors.Mask(torch.from_numpy(labels.lut[np.asarray(target)]))
        return pipeline(image, mask)

    return datasets.Cityscapes(str(root), split="train", mode="fine", target_type="semantic", transforms=transforms)


def run(device: str = "cpu", quick: bool = False) -> dict:
    images, repeats = (4, 8) if quick else (16, 32)
    size = (512, 1024)
    root = full_size_sample(images)
    overrides = [
        f"paths.root={root}",
        f"dataset.size=[{size[0]},{size[1]}]",
        f"dataset.cache_dir={root.parent / 'prepared'}",
    ]
    cfg = config_from_dict({}, overrides)
    build_cache(cfg, "train", size, say=lambda _msg: None)
    labels = build_labels("cityscapes", "categories")
    cached = build_dataset(cfg, labels, "train", "train")
    png = build_dataset(config_from_dict({}, [*overrides, "dataset.cache=false"]), labels, "train", "train")
    assert cached.cache is not None and png.cache is None
    theirs = torchvision_dataset(root, size, labels)
    counters = {"ours, prepared cache": 0, "ours, PNG": 0, "torchvision Cityscapes + PIL + v2": 0}

    def draw(name, dataset):
        def one():
            i = counters[name]
            counters[name] += 1
            return dataset[(i % len(dataset), i)] if dataset is not theirs else dataset[i % len(dataset)]

        return one

    contenders = {"ours, prepared cache": cached, "ours, PNG": png, "torchvision Cityscapes + PIL + v2": theirs}
    torch.manual_seed(0)
    with threads(1):
        seconds = side_by_side({name: draw(name, ds) for name, ds in contenders.items()}, repeats, warmup=1)
    ms = {name: 1000 * s for name, s in seconds.items()}
    peer = "torchvision Cityscapes + PIL + v2"
    ratios = {
        "cache / torchvision": seconds["ours, prepared cache"] / seconds[peer],
        "PNG / torchvision": seconds["ours, PNG"] / seconds[peer],
        "cache / PNG": seconds["ours, prepared cache"] / seconds["ours, PNG"],
    }
    settings = {
        "size": list(size),
        "source": "1024x2048 PNGs (synthetic, ~3.3 MB each)",
        "train_images": images,
        "samples_each": repeats,
        "threads": 1,
    }
    samples_per_s = {name: round(1000 / v, 2) for name, v in ms.items()}
    notes = (
        f"one worker; cache speed-up over PNG {seconds['ours, PNG'] / seconds['ours, prepared cache']:.1f}x (goal 2x)"
    )
    return result(
        "sample",
        ms,
        ratios,
        "cache / torchvision",
        "torchvision.datasets.Cityscapes + PIL + transforms.v2",
        settings,
        notes,
        samples_per_s=samples_per_s,
    )


def loader_throughput(dataset, workers: int, batch: int = 16, batches: int = 40) -> float:
    """Samples per second of a DataLoader with ``workers`` processes drawing seeded training samples, after its first batch."""
    n = (batches + 1) * batch
    sampler = [(i % len(dataset), i) for i in range(n)]  # one long pass: no epoch boundaries in the timing
    loader = DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=worker_init,
        prefetch_factor=4 if workers else None,
    )
    seen, start = 0, None
    for images in loader:
        if start is None:
            start = time.perf_counter()  # worker start-up is not throughput
            continue
        seen += images["image"].shape[0]
    return seen / (time.perf_counter() - start)


def main() -> None:
    """python -m benchmarks.data_pipeline --workers N: loader samples/s at 512x1024 with N workers, cache and PNG."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--images", type=int, default=16, help="1024x2048 train images in the generated sample")
    p.add_argument("--batches", type=int, default=40)
    args = p.parse_args()
    torch.set_num_threads(1)
    root = full_size_sample(args.images)
    overrides = [f"paths.root={root}", "dataset.size=[512,1024]", f"dataset.cache_dir={root.parent / 'prepared'}"]
    cfg = config_from_dict({}, overrides)
    build_cache(cfg, "train", (512, 1024), say=print)
    labels = build_labels("cityscapes", "categories")
    for name, c in (("prepared cache", cfg), ("PNG", config_from_dict({}, [*overrides, "dataset.cache=false"]))):
        rate = loader_throughput(build_dataset(c, labels, "train", "train"), args.workers, batches=args.batches)
        print(
            f"{name}: {rate:.0f} samples/s at 512x1024 with {args.workers} workers ({rate / args.workers:.1f} per "
            "worker)",
            flush=True,
        )


if __name__ == "__main__":
    main()
