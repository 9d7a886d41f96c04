"""segformer: SegFormer's all-MLP decoder (Xie et al. 2021) on any hierarchical encoder, as smp 0.6's Segformer."""

from dataclasses import dataclass

from utils.config.declare import opt, positive

SUMMARY = "SegFormer's all-MLP decoder on any hierarchical encoder, e.g. tu-pvt_v2_b2 (smp's Segformer layer for layer)"
OUTPUT_STRIDE = 4


@dataclass(frozen=True)
class Keys:
    segformer_decoder_channels: int = opt(
        256,
        "segformer: channels of the per-level linear projections and the fusion",
        on_resume="match",
        rule=positive(),
    )


def build(cfg, num_classes: int):
    from models.base import SegmentationHead, SegmentationModel
    from models.encoders import build_encoder
    from models.segformer import SegformerDecoder

    encoder = build_encoder(cfg.encoder, cfg.encoder_weights)
    decoder = SegformerDecoder(encoder.out_channels, cfg.segformer_decoder_channels)
    head = SegmentationHead(decoder.out_channels, num_classes, upsampling=4)
    # Transformer encoders need H and W divisible by 32; the model pads any input to that and crops back.
    return SegmentationModel(encoder, decoder, head, pad_multiple=32)


def aux_weights(cfg) -> dict:
    return {}
