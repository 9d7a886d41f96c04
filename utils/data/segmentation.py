"""The dataset every layout feeds: reads an image and its label file, encodes labels, applies transforms."""

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from utils.config.errors import UserError
from utils.data.families.base import Item
from utils.data.transforms import reseed, to_tensor
from utils.labels import LabelSet


def read_rgb(
    path: Path, what: str = "image", source: str = "", advice: str = "Re-download or remove it."
) -> np.ndarray:
    """(H, W, 3) uint8 RGB; an unreadable file is a UserError naming ``what`` it is, the ``source`` (config keys) it
    came from, and ending with ``advice``."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        where = f" ({source})" if source else ""
        raise UserError(f"Cannot read {what} '{path}'{where}: the file is missing, empty or not an image. {advice}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def size_mismatch(codes_shape, image_shape, label_path, image_path) -> str:
    """'' when a label and its image have the same (H, W); otherwise the sentence that says they do not."""
    if tuple(codes_shape[:2]) == tuple(image_shape[:2]):
        return ""
    return (
        f"Label '{label_path}' is {codes_shape[1]}x{codes_shape[0]} but its image '{image_path}' is "
        f"{image_shape[1]}x{image_shape[0]}."
    )


class SegmentationDataset(Dataset):
    """Images with optional labels, as tensors.

    A sample is a dict with ``image`` (3, H, W) float32 normalised, ``mask`` (H, W) uint8 class
    indices (absent without labels), ``name`` and ``index``. With ``resize_mask=False`` the mask
    keeps the label file's full resolution, which is where metrics are measured.

    Args:
        items: the files, in a fixed order.
        labels: the run's LabelSet.
        decode: turns a label file into (H, W) uint8 codes for ``labels.lut`` (the family's ``read_label``).
        transform: an albumentations Compose.
        resize_mask: send the mask through ``transform`` too.
    """

    def __init__(
        self, items: list, labels: LabelSet, decode: Callable, transform, resize_mask: bool = True, cache=None
    ):
        self.items, self.labels, self.decode = items, labels, decode
        self.transform, self.resize_mask = transform, resize_mask
        self.cache = cache  # a CachedSplit of these items already resized, or None to decode the files

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, index: int, item: Item):
        """(image, raw label codes or None, original (H, W)): from the prepared cache, or decoded from the files."""
        if self.cache is not None:
            image, codes = self.cache.read(index)
            if item.label is not None and not self.resize_mask:
                codes = self.decode(item.label)  # metrics are measured on the label file's full resolution
            return image, codes if item.label is not None else None, self.cache.original_sizes[index]
        image = read_rgb(item.image)
        codes = None
        if item.label is not None:
            codes = self.decode(item.label)
            mismatch = size_mismatch(codes.shape, image.shape, item.label, item.image)
            if mismatch:
                raise UserError(mismatch)
        return image, codes, image.shape[:2]

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        item = self.items[index]
        image, codes, original = self._read(index, item)
        sample = {"name": item.name, "index": index, "original_size": torch.tensor(original)}
        mask = None if codes is None else self.labels.encode(codes)
        if seed is not None:
            reseed(self.transform, seed)
        if mask is not None and self.resize_mask:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        else:
            image = self.transform(image=image)["image"]
        sample["image"] = to_tensor(image)
        if mask is not None:
            sample["mask"] = torch.from_numpy(np.ascontiguousarray(mask))
        return sample


def collate(samples: list) -> dict:
    """Stacks images; masks are stacked when they share a size and kept as a list otherwise."""
    batch = {"image": torch.stack([s["image"] for s in samples])}
    batch["name"] = [s["name"] for s in samples]
    batch["index"] = torch.tensor([s["index"] for s in samples])
    batch["original_size"] = torch.stack([s["original_size"] for s in samples])
    if "mask" in samples[0]:
        masks = [s["mask"] for s in samples]
        same = all(m.shape == masks[0].shape for m in masks)
        batch["mask"] = torch.stack(masks) if same else masks
    return batch
