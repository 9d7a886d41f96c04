"""Model factory: ``build_model(arch=..., encoder=..., num_classes=..., encoder_weights=...)``."""

from torch import nn

from models.base import SegmentationModel
from models.encoders import ENCODERS, build_encoder, canonical_encoder_name
from models.fpn import FPNDecoder, FPNHead
from models.timm_encoder import is_timm_encoder
from models.unet import UnetDecoder
from models.unet_original import OriginalUnetDecoder, OriginalUnetEncoder
from utils.config.errors import UserError

ARCHS = ("fpn", "unet")


def build_model(
    arch: str = "fpn",
    encoder: str = "resnext50_32x4d",
    num_classes: int = 8,
    encoder_weights: str = None,
    dropout: float = 0.2,
    fpn_merge: str = "add",
    fpn_pyramid_channels: int = 256,
    fpn_segmentation_channels: int = 128,
    unet_preset: str = "light",
    unet_decoder_channels=(256, 128, 64, 32, 16),
    unet_num_filters: int = 32,
    unet_res_blocks: bool = False,
) -> SegmentationModel:
    """A segmentation model returning (N, num_classes, H, W) logits for (N, 3, H, W) inputs of any size.

    Args:
        arch: fpn or unet.
        encoder: a torchvision ResNet/ResNeXt name (``resnext50`` is accepted as the original's), or
            ``tu-<timm model name>`` for any timm model with ``features_only`` maps at strides 4..32.
        num_classes: output channels.
        encoder_weights: imagenet (torchvision weights API, or timm's default pretrained tag) or None.
        unet_preset: light (smp-style decoder) or original (the original project's TernausNet decoder; 58.1M parameters with resnext50).
        The other arguments mirror the ``model`` config keys.
    """
    if arch not in ARCHS:
        raise UserError(f"Unknown model.arch '{arch}'; allowed: {' | '.join(ARCHS)}.")
    if num_classes < 1:
        raise UserError(f"num_classes is {num_classes}; it must be at least 1.")
    if arch == "unet" and unet_preset == "original" and is_timm_encoder(encoder):
        raise UserError(f"model.unet_preset 'original' rebuilds the original's UNET on a torchvision ResNet/ResNeXt ({', '.join(ENCODERS)}); encoder '{encoder}' works with unet_preset: light.")
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


def build_model_from_config(model_cfg, num_classes: int) -> SegmentationModel:
    """``build_model`` with every ``model`` config key."""
    return build_model(
        arch=model_cfg.arch,
        encoder=model_cfg.encoder,
        num_classes=num_classes,
        encoder_weights=model_cfg.encoder_weights,
        dropout=model_cfg.dropout,
        fpn_merge=model_cfg.fpn_merge,
        fpn_pyramid_channels=model_cfg.fpn_pyramid_channels,
        fpn_segmentation_channels=model_cfg.fpn_segmentation_channels,
        unet_preset=model_cfg.unet_preset,
        unet_decoder_channels=model_cfg.unet_decoder_channels,
        unet_num_filters=model_cfg.unet_num_filters,
        unet_res_blocks=model_cfg.unet_res_blocks,
    )


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["build_model", "build_model_from_config", "count_parameters", "ENCODERS", "canonical_encoder_name"]
