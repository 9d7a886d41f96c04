"""The unlabelled samples of semi-supervised training and the endless, sharded stream that draws them.

A sample is a weak view (the training geometry: resize, random scale, crop, flip; no colour change), a strong view of
the same geometry (colour jitter, grayscale, blur on top), where the crop padded, and a CutMix box (UniMatch's
``obtain_cutmix_box``). Everything random comes from the sample's seed, never from a global RNG: a sample is the same
with any worker count, and a resume draws exactly what an uninterrupted run would.
"""

import albumentations as A
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from utils.data.loaders import worker_init
from utils.data.segmentation import read_rgb
from utils.data.transforms import geometry_steps, reseed, to_tensor
from utils.labels import IGNORE_INDEX

_STREAM = 0x5E31  # keeps the unlabelled stream's orders and seeds apart from the labelled sampler's


def strong_transform(unlabeled_cfg) -> A.Compose:
    """The strong view's colour operations (UniMatch's): colour jitter with p 0.8, random grayscale, Gaussian blur with
    sigma 0.1-2.0. Keys at 0 leave their operation out."""
    u, steps = unlabeled_cfg, []
    if u.color_jitter > 0:
        cj = u.color_jitter
        steps.append(A.ColorJitter(brightness=cj, contrast=cj, saturation=cj, hue=cj / 2, p=0.8))
    if u.grayscale_p > 0:
        steps.append(A.ToGray(num_output_channels=3, p=u.grayscale_p))
    if u.blur_p > 0:
        steps.append(A.GaussianBlur(blur_limit=0, sigma_limit=(0.1, 2.0), p=u.blur_p))
    return A.Compose(steps)


def cutmix_box(shape, p: float, rng: np.random.Generator, max_tries: int = 1000) -> np.ndarray:
    """(H, W) bool: with probability ``p`` a box of 2-40% of the area with aspect (h / w) 0.3-3.3, placed at random,
    as UniMatch's ``obtain_cutmix_box`` (re-drawn until it fits; no box after ``max_tries``); else all False."""
    h, w = shape
    box = np.zeros((h, w), bool)
    if rng.random() >= p:
        return box
    area = rng.uniform(0.02, 0.4) * h * w
    for _ in range(max_tries):
        ratio = rng.uniform(0.3, 1 / 0.3)
        bw, bh = int(np.sqrt(area / ratio)), int(np.sqrt(area * ratio))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if x + bw <= w and y + bh <= h:
            box[y : y + bh, x : x + bw] = True
            break
    return box


class UnlabeledDataset(Dataset):
    """Unlabelled images as training samples, indexed by ``(index, seed)`` (:class:`StreamSampler`).

    A sample: ``weak`` and ``strong`` (3, h, w) float32 normalised, ``valid`` (h, w) bool (False where the crop
    padded), ``cutmix_box`` (h, w) bool and ``index``; (h, w) is the training crop.

    Args:
        items: the images (:func:`utils.data.unlabeled.unlabeled_items`).
        dataset_cfg: the run's ``dataset`` section (scale range, crop, flip).
        unlabeled_cfg: the ``unlabeled`` section (the strong view and CutMix).
        size: [H, W] the images are resized to (the stage's size).
    """

    def __init__(self, items: list, dataset_cfg, unlabeled_cfg, size):
        self.items = items
        self.geometry = A.Compose(geometry_steps(dataset_cfg, size))
        self.strong = strong_transform(unlabeled_cfg)
        self.cutmix_p = unlabeled_cfg.cutmix_p

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key) -> dict:
        index, seed = key
        image = read_rgb(
            self.items[index].image, "unlabelled image", "unlabeled.source / unlabeled.split", "Remove or replace it."
        )
        geometry_seed, strong_seed, box_seed = np.random.SeedSequence(seed).generate_state(3)
        reseed(self.geometry, int(geometry_seed))
        # An all-zero mask through the same geometry: the crop's padding fills it with IGNORE_INDEX.
        out = self.geometry(image=image, mask=np.zeros(image.shape[:2], np.uint8))
        weak, valid = out["image"], out["mask"] != IGNORE_INDEX
        reseed(self.strong, int(strong_seed))
        strong = self.strong(image=weak)["image"]
        box = cutmix_box(weak.shape[:2], self.cutmix_p, np.random.default_rng(int(box_seed)))
        return {
            "weak": to_tensor(weak),
            "strong": to_tensor(strong),
            "valid": torch.from_numpy(np.ascontiguousarray(valid)),
            "cutmix_box": torch.from_numpy(box),
            "index": index,
        }


class StreamSampler(Sampler):
    """Endless ``(index, seed)`` pairs: one global stream of reshuffled passes over the set, sharded over processes.

    Global position ``p`` lies in pass ``p // length``, whose order and per-sample seeds depend only on (seed, pass);
    process ``rank`` takes the positions ``p`` with ``p % world_size == rank``, from ``start`` (positions drawn before,
    over all processes). The stream is the same on any number of processes, and a resume continues it exactly.
    """

    def __init__(self, length: int, seed: int, start: int = 0, rank: int = 0, world_size: int = 1):
        self.length, self.seed, self.start, self.rank, self.world_size = length, seed, start, rank, world_size
        self._pass, self._order, self._seeds = None, None, None

    def _load_pass(self, number: int) -> None:
        if self._pass != number:
            key = [self.seed, _STREAM, number]
            self._order = np.random.default_rng(np.random.SeedSequence([*key, 0])).permutation(self.length)
            self._seeds = np.random.SeedSequence([*key, 1]).generate_state(self.length, dtype=np.uint32)
            self._pass = number

    def at(self, position: int) -> tuple:
        """The ``(index, seed)`` at a global position."""
        number, offset = divmod(position, self.length)
        self._load_pass(number)
        return int(self._order[offset]), int(self._seeds[offset])

    def __iter__(self):
        position = self.start + self.rank
        while True:
            yield self.at(position)
            position += self.world_size


def build_unlabeled_loader(
    dataset: UnlabeledDataset, batch_size: int, num_workers: int, sampler: StreamSampler, pin_memory: bool
) -> DataLoader:
    """An endless loader of unlabelled batches (iterate it once; it never ends)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=default_collate,
        pin_memory=pin_memory,
        worker_init_fn=worker_init,  # one cv2 thread per worker, as the labelled loader's
        generator=torch.Generator().manual_seed(sampler.seed),  # worker start-up leaves the global RNG alone
    )
