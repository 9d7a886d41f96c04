"""upernet: pyramid pooling on the deepest map plus an FPN fusion (Xiao et al. 2018), as smp 0.6's UPerNet."""

from dataclasses import dataclass

from utils.config.declare import not_negative, opt, positive

SUMMARY = "UPerNet (pyramid pooling + FPN fusion; smp's UPerNet layer for layer)"
OUTPUT_STRIDE = 4


@dataclass(frozen=True)
class Keys:
    upernet_decoder_channels: int = opt(
        256, "upernet: channels of the pyramid pooling, FPN and fusion convs", on_resume="match", rule=positive()
    )
    upernet_aux_weight: float = opt(
        0.0,
        "upernet: loss weight of the FCN auxiliary head on the encoder's stride-16 stage (mmseg: 0.4); 0 builds no "
        "head",
        on_resume="match",
        rule=not_negative(),
    )


def build(cfg, num_classes: int):
    from models.base import SegmentationHead, SegmentationModel
    from models.encoders import build_encoder
    from models.fcn_head import FCNHead
    from models.upernet import UPerNetDecoder

    encoder = build_encoder(cfg.encoder, cfg.encoder_weights)
    decoder = UPerNetDecoder(encoder.out_channels, cfg.upernet_decoder_channels)
    aux = {"aux": FCNHead(encoder.out_channels[3], num_classes)} if cfg.upernet_aux_weight > 0 else {}
    head = SegmentationHead(decoder.out_channels, num_classes, upsampling=4)
    return SegmentationModel(encoder, decoder, head, pad_multiple=32, aux_heads=aux)


def aux_weights(cfg) -> dict:
    return {"aux": cfg.upernet_aux_weight} if cfg.upernet_aux_weight > 0 else {}
