"""fpn: the Panoptic-FPN semantic head (Kirillov et al. 2019), as in the original project and smp's FPN."""

from dataclasses import dataclass
from typing import Literal

from utils.config.declare import Rule, opt

SUMMARY = "Panoptic-FPN semantic head (the original's)"
OUTPUT_STRIDE = 4


@dataclass(frozen=True)
class Keys:
    fpn_merge: Literal["add", "cat"] = opt(
        "add", "fpn: how the four upsampled pyramid levels are merged", on_resume="match"
    )
    fpn_pyramid_channels: int = opt(
        256,
        "fpn: channels of the feature pyramid",
        on_resume="match",
        rule=Rule(lambda v: v > 0 and v % 32 == 0, "must be a positive multiple of 32 (GroupNorm uses 32 groups)"),
    )
    fpn_segmentation_channels: int = opt(
        128,
        "fpn: channels of the segmentation branches",
        on_resume="match",
        rule=Rule(lambda v: v > 0 and v % 32 == 0, "must be a positive multiple of 32 (GroupNorm uses 32 groups)"),
    )


def build(cfg, num_classes: int):
    from models.base import SegmentationModel
    from models.encoders import build_encoder
    from models.fpn import FPNDecoder, FPNHead

    encoder = build_encoder(cfg.encoder, cfg.encoder_weights)
    decoder = FPNDecoder(
        encoder.out_channels, cfg.fpn_pyramid_channels, cfg.fpn_segmentation_channels, cfg.dropout, cfg.fpn_merge
    )
    return SegmentationModel(encoder, decoder, FPNHead(decoder.out_channels, num_classes), pad_multiple=32)


def aux_weights(cfg) -> dict:
    return {}
