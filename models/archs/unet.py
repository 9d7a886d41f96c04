"""unet: the light decoder (smp's Unet) or the original project's TernausNet decoder (``unet_preset: original``)."""

from dataclasses import dataclass
from typing import Literal

from utils.config.declare import Rule, opt, positive
from utils.config.errors import UserError

SUMMARY = "U-Net (light, smp's decoder; or original, the original project's TernausNet)"
OUTPUT_STRIDE = 1


@dataclass(frozen=True)
class Keys:
    unet_preset: Literal["light", "original"] = opt(
        "light",
        "unet: light (smp-style decoder) or original (the original project's TernausNet decoder: 58.1M params with "
        "resnext50, printed as 81.1M by the original)",
        on_resume="match",
    )
    unet_decoder_channels: list[int] = opt(
        [256, 128, 64, 32, 16],
        "unet light: widths of the five decoder blocks, deepest first",
        on_resume="match",
        rule=Rule(lambda v: len(v) == 5 and min(v) > 0, "must list five positive widths, deepest first"),
    )
    unet_num_filters: int = opt(
        32, "unet original: num_filters of the TernausNet decoder", on_resume="match", rule=positive()
    )
    unet_res_blocks: bool = opt(
        False,
        "unet original: residual blocks inside the decoder blocks (69.0M params with resnext50, printed as 92.0M by "
        "the original)",
        on_resume="match",
    )


def build(cfg, num_classes: int):
    from torch import nn

    from models.base import SegmentationModel
    from models.encoders import ENCODERS, build_encoder
    from models.timm_encoder import is_timm_encoder
    from models.unet import UnetDecoder
    from models.unet_original import OriginalUnetDecoder, OriginalUnetEncoder

    if cfg.unet_preset == "original" and is_timm_encoder(cfg.encoder):
        raise UserError(
            "model.unet_preset 'original' rebuilds the original's UNET on a torchvision ResNet/ResNeXt "
            f"({', '.join(ENCODERS)}); encoder '{cfg.encoder}' works with unet_preset: light."
        )
    if cfg.unet_preset not in ("light", "original"):
        raise UserError(f"Unknown model.unet_preset '{cfg.unet_preset}'; allowed: light | original.")
    encoder = build_encoder(cfg.encoder, cfg.encoder_weights)
    if cfg.unet_preset == "original":
        decoder = OriginalUnetDecoder(encoder.out_channels, cfg.unet_num_filters, cfg.unet_res_blocks, cfg.dropout)
        head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=1)
        return SegmentationModel(OriginalUnetEncoder(encoder, cfg.dropout), decoder, head, pad_multiple=64)
    decoder = UnetDecoder(encoder.out_channels, tuple(cfg.unet_decoder_channels))
    head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=3, padding=1)
    return SegmentationModel(encoder, decoder, head, pad_multiple=32)


def aux_weights(cfg) -> dict:
    return {}
