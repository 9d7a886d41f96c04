"""Model factory: ``build_model(arch=..., encoder=..., num_classes=..., encoder_weights=...)``."""

import dataclasses
from collections.abc import Sequence
from typing import Optional

from torch import nn

from models.base import SegmentationModel
from models.encoders import ENCODERS, build_encoder, canonical_encoder_name
from models.fpn import FPNDecoder, FPNHead
from models.timm_encoder import is_timm_encoder
from models.unet import UnetDecoder
from models.unet_original import OriginalUnetDecoder, OriginalUnetEncoder
from utils.config.errors import UserError
from utils.config.schema import ModelConfig

ARCHS = ("fpn", "unet")
_DEFAULT = ModelConfig()  # the defaults are the config's, declared once in the schema


def build_model(
    arch: str = _DEFAULT.arch,
    encoder: str = _DEFAULT.encoder,
    num_classes: int = 8,
    encoder_weights: Optional[str] = None,  # not the config's imagenet: a library call downloads nothing unless asked
    *,
    dropout: float = _DEFAULT.dropout,
    fpn_merge: str = _DEFAULT.fpn_merge,
    fpn_pyramid_channels: int = _DEFAULT.fpn_pyramid_channels,
    fpn_segmentation_channels: int = _DEFAULT.fpn_segmentation_channels,
    unet_preset: str = _DEFAULT.unet_preset,
    unet_decoder_channels: Sequence[int] = tuple(_DEFAULT.unet_decoder_channels),
    unet_num_filters: int = _DEFAULT.unet_num_filters,
    unet_res_blocks: bool = _DEFAULT.unet_res_blocks,
) -> SegmentationModel:
    """A segmentation model returning (N, num_classes, H, W) logits for (N, 3, H, W) inputs of any size.

    The keywords are exactly ``ModelConfig``'s fields plus ``num_classes`` (a test checks it), so
    :func:`build_model_from_config` passes every ``model`` config key.

    Args:
        arch: fpn or unet.
        encoder: a torchvision ResNet/ResNeXt name (``resnext50`` is accepted as the original's), or
            ``tu-<timm model name>`` for any timm model with ``features_only`` maps at strides 4..32.
        num_classes: output channels.
        encoder_weights: imagenet (torchvision weights API, or timm's default pretrained tag), the path of a
            local ``.pth``/``.pt``/``.bin``/``.safetensors`` file of the classification model's state dict, or None.
        unet_preset: light (smp-style decoder) or original (the original project's TernausNet decoder; 58.1M parameters with resnext50).
        The other arguments mirror the ``model`` config keys.
    """
    if arch not in ARCHS:
        raise UserError(f"Unknown model.arch '{arch}'; allowed: {' | '.join(ARCHS)}.")
    if num_classes < 1:
        raise UserError(f"num_classes is {num_classes}; it must be at least 1.")
    if arch == "unet" and unet_preset == "original" and is_timm_encoder(encoder):
        raise UserError(
            "model.unet_preset 'original' rebuilds the original's UNET on a torchvision ResNet/ResNeXt "
            f"({', '.join(ENCODERS)}); encoder '{encoder}' works with unet_preset: light."
        )
    enc = build_encoder(encoder, encoder_weights)
    if arch == "fpn":
        decoder = FPNDecoder(enc.out_channels, fpn_pyramid_channels, fpn_segmentation_channels, dropout, fpn_merge)
        return SegmentationModel(enc, decoder, FPNHead(decoder.out_channels, num_classes), pad_multiple=32)
    if unet_preset == "original":
        decoder = OriginalUnetDecoder(enc.out_channels, unet_num_filters, unet_res_blocks, dropout)
        head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=1)
        return SegmentationModel(OriginalUnetEncoder(enc, dropout), decoder, head, pad_multiple=64)
    if unet_preset != "light":
        raise UserError(f"Unknown model.unet_preset '{unet_preset}'; allowed: light | original.")
    decoder = UnetDecoder(enc.out_channels, tuple(unet_decoder_channels))
    head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=3, padding=1)
    return SegmentationModel(enc, decoder, head, pad_multiple=32)


def build_model_from_config(model_cfg: ModelConfig, num_classes: int) -> SegmentationModel:
    """``build_model`` with every ``model`` config key."""
    return build_model(num_classes=num_classes, **dataclasses.asdict(model_cfg))


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["build_model", "build_model_from_config", "count_parameters", "ENCODERS", "canonical_encoder_name"]
