"""Albumentations 2.x pipelines. Masks stay uint8 class-index maps; padding fills them with IGNORE_INDEX."""

import albumentations as A
import cv2
import numpy as np
import torch

from utils.data.normalization import IMAGENET_MEAN, IMAGENET_STD
from utils.labels import IGNORE_INDEX


def weather_transform(p: float) -> A.BaseCompose:
    """The original project's hard augmentations, one at a time."""
    return A.OneOf(
        [
            A.RandomRain(rain_type="drizzle", p=1.0),
            A.RandomSnow(snow_point_range=(0.1, 0.3), p=1.0),
            A.RandomFog(fog_coef_range=(0.2, 0.5), p=1.0),
            A.RandomShadow(shadow_roi=(0, 0.5, 1, 1), num_shadows_limit=(1, 3), p=1.0),
            A.RandomSunFlare(flare_roi=(0, 0, 1, 0.5), src_radius=100, p=1.0),
        ],
        p=p,
    )


class CatMaxRatioCrop(A.RandomCrop):
    """A random crop, padded at the bottom and right with ignore where the image is smaller (as mmseg pads),
    that is re-drawn (up to ``max_tries`` times, as mmseg's RandomCrop) while one class covers more than
    ``cat_max_ratio`` of its labelled pixels, or it holds a single class. 1.0 keeps the first draw."""

    def __init__(self, height: int, width: int, cat_max_ratio: float = 1.0, max_tries: int = 10, p: float = 1.0):
        super().__init__(
            height,
            width,
            pad_if_needed=True,
            pad_position="top_left",
            border_mode=cv2.BORDER_CONSTANT,
            fill=0,
            fill_mask=IGNORE_INDEX,
            p=p,
        )
        self.cat_max_ratio, self.max_tries = cat_max_ratio, max_tries

    def _varied(self, mask: np.ndarray, params: dict) -> bool:
        x0, y0, x1, y1 = params["crop_coords"]  # in the padded frame; padding is top-left anchored: no offset
        counts = np.bincount(mask[y0:y1, x0:x1].ravel(), minlength=256)
        counts[IGNORE_INDEX] = 0
        counts = counts[counts > 0]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict:
        out = super().get_params_dependent_on_data(params, data)
        mask = data.get("mask")
        if self.cat_max_ratio < 1.0 and mask is not None:
            for _ in range(self.max_tries):
                if self._varied(mask, out):
                    break
                out = super().get_params_dependent_on_data(params, data)
        return out


def training_crop(dataset_cfg, size=None) -> list:
    """[H, W] of the crops training takes: ``dataset_cfg.crop_size``, or the whole image at ``size`` (default
    ``dataset_cfg.size``) when that is null. Sliding-window inference runs windows of this size, so that every
    window sees objects at the scale and extent training saw them."""
    return list(dataset_cfg.crop_size or size or dataset_cfg.size)


def geometry_steps(dataset_cfg, size, cat_max_ratio: float = 1.0) -> list:
    """The geometric part of :func:`train_transform`: resize to ``size``, random scale, crop (padded with ignore),
    flip. The unlabelled images of semi-supervised training take these alone, with ``cat_max_ratio`` 1.0 (they have
    no classes to judge a crop by)."""
    h, w = size
    lo, hi = dataset_cfg.scale_range
    crop = training_crop(dataset_cfg, size)
    steps = [A.Resize(h, w, interpolation=cv2.INTER_LINEAR, area_for_downscale="image")]
    if (lo, hi) != (1.0, 1.0):
        steps.append(A.RandomScale(scale_limit=(lo - 1.0, hi - 1.0), interpolation=cv2.INTER_LINEAR, p=1.0))
    if (lo, hi) != (1.0, 1.0) or list(crop) != list(size):
        steps.append(CatMaxRatioCrop(crop[0], crop[1], cat_max_ratio))
    if dataset_cfg.hflip:
        steps.append(A.HorizontalFlip(p=0.5))
    return steps


def train_transform(dataset_cfg, size) -> A.Compose:
    """Resize to ``size`` (the scale at ratio 1), random scale, crop, flip, colour jitter, optional weather.

    The crop is :func:`training_crop`: ``dataset_cfg.crop_size``, or ``size`` itself when that is null; it is
    padded with ignore where the scaled image is smaller.
    """
    steps = geometry_steps(dataset_cfg, size, dataset_cfg.cat_max_ratio)
    cj = dataset_cfg.color_jitter
    if cj > 0 or dataset_cfg.hue_jitter > 0:
        steps.append(A.ColorJitter(brightness=cj, contrast=cj, saturation=cj, hue=dataset_cfg.hue_jitter, p=0.8))
    if dataset_cfg.weather_aug:
        steps.append(weather_transform(dataset_cfg.weather_p))
    return A.Compose(steps)


def resize_transform(size) -> A.Compose:
    """Deterministic resize for validation and inference (a mask passed along is resized with nearest)."""
    return A.Compose([A.Resize(size[0], size[1], interpolation=cv2.INTER_LINEAR, area_for_downscale="image")])


def reseed(transform: A.BaseCompose, seed: int) -> None:
    """Gives every transform its own stream derived from ``seed``, so scale, flip and jitter are independent draws."""
    transform.set_random_seed(seed)
    for i, child in enumerate(transform.transforms):
        child.set_random_seed(int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32, ImageNet-normalised."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def prediction_batch(images, size) -> torch.Tensor:
    """RGB uint8 images, each (H, W, 3) at any size -> a (N, 3, h, w) float32 ImageNet-normalised batch at
    ``size`` = [h, w]: what the model predicts on.

    The same two steps, :func:`resize_transform` then :func:`to_tensor`, as the dataset's eval and predict
    samples (a test checks they are equal), so a video frame or a Predictor image is predicted exactly as
    eval.py predicts the same picture from a file.
    """
    resize = resize_transform(size)
    return torch.stack([to_tensor(resize(image=image)["image"]) for image in images])


def denormalize(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) normalised tensors -> (N, H, W, 3) uint8 RGB for pictures."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    x = (images.float() * std + mean).clamp(0, 1).mul(255).round().byte()
    return x.permute(0, 2, 3, 1).cpu().numpy()
