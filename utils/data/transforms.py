"""Albumentations 2.x pipelines. Masks stay uint8 class-index maps; padding fills them with IGNORE_INDEX."""

import albumentations as A
import cv2
import numpy as np
import torch

from utils.labels import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def train_transform(dataset_cfg, size) -> A.Compose:
    """Resize to ``size``, random scale, pad and crop back to ``size``, flip, colour jitter, optional weather."""
    h, w = size
    lo, hi = dataset_cfg.scale_range
    steps = [A.Resize(h, w, interpolation=cv2.INTER_LINEAR, area_for_downscale="image")]
    if (lo, hi) != (1.0, 1.0):
        steps += [
            A.RandomScale(scale_limit=(lo - 1.0, hi - 1.0), interpolation=cv2.INTER_LINEAR, p=1.0),
            A.PadIfNeeded(h, w, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=IGNORE_INDEX),
            A.RandomCrop(h, w),
        ]
    if dataset_cfg.hflip:
        steps.append(A.HorizontalFlip(p=0.5))
    cj = dataset_cfg.color_jitter
    if cj > 0 or dataset_cfg.hue_jitter > 0:
        steps.append(A.ColorJitter(brightness=cj, contrast=cj, saturation=cj, hue=dataset_cfg.hue_jitter, p=0.8))
    if dataset_cfg.weather_aug:
        steps.append(weather_transform(dataset_cfg.weather_p))
    return A.Compose(steps)


def resize_transform(size) -> A.Compose:
    """Deterministic resize for validation and inference (a mask passed along is resized with nearest)."""
    return A.Compose([A.Resize(size[0], size[1], interpolation=cv2.INTER_LINEAR, area_for_downscale="image")])


def identity_transform() -> A.Compose:
    """No resizing: sliding-window inference sees the full-resolution image."""
    return A.Compose([A.NoOp()])


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


def denormalize(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) normalised tensors -> (N, H, W, 3) uint8 RGB for pictures."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    x = (images.float() * std + mean).clamp(0, 1).mul(255).round().byte()
    return x.permute(0, 2, 3, 1).cpu().numpy()
