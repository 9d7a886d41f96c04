"""deeplabv3plus: ASPP on a dilated encoder plus the stride-4 skip (Chen et al. 2018), as smp 0.6's DeepLabV3Plus."""

from dataclasses import dataclass
from typing import Literal

from utils.config.declare import Rule, not_negative, opt, positive

SUMMARY = "DeepLabV3+ (ASPP on a dilated encoder, stride-4 skip; smp's DeepLabV3Plus layer for layer)"
OUTPUT_STRIDE = 4


@dataclass(frozen=True)
class Keys:
    deeplabv3plus_output_stride: Literal[8, 16] = opt(
        16,
        "deeplabv3plus: the encoder's output stride; its deepest stages are dilated instead of strided (torchvision "
        "ResNets as smp does; tu- encoders where timm can)",
        on_resume="match",
    )
    deeplabv3plus_decoder_channels: int = opt(
        256, "deeplabv3plus: channels of ASPP and of the decoder", on_resume="match", rule=positive()
    )
    deeplabv3plus_atrous_rates: list[int] = opt(
        [12, 24, 36],
        "deeplabv3plus: dilation rates of ASPP's three 3x3 branches",
        on_resume="match",
        rule=Rule(lambda v: len(v) == 3 and min(v) > 0, "must list three positive rates"),
    )
    deeplabv3plus_aspp_separable: bool = opt(
        True, "deeplabv3plus: depthwise-separable 3x3 convs in ASPP", on_resume="match"
    )
    deeplabv3plus_aspp_dropout: float = opt(
        0.5,
        "deeplabv3plus: dropout after ASPP's projection",
        on_resume="free",
        rule=Rule(lambda v: 0 <= v < 1, "must lie in [0, 1)"),
    )
    deeplabv3plus_aux_weight: float = opt(
        0.0,
        "deeplabv3plus: loss weight of the FCN auxiliary head on the encoder's stride-16 stage (mmseg: 0.4); 0 builds "
        "no head",
        on_resume="match",
        rule=not_negative(),
    )


def build(cfg, num_classes: int):
    from models.base import SegmentationHead, SegmentationModel
    from models.deeplabv3plus import DeepLabV3PlusDecoder
    from models.encoders import build_encoder
    from models.fcn_head import FCNHead

    stride = cfg.deeplabv3plus_output_stride
    encoder = build_encoder(cfg.encoder, cfg.encoder_weights, output_stride=stride)
    decoder = DeepLabV3PlusDecoder(
        encoder.out_channels,
        cfg.deeplabv3plus_decoder_channels,
        tuple(cfg.deeplabv3plus_atrous_rates),
        stride,
        cfg.deeplabv3plus_aspp_separable,
        cfg.deeplabv3plus_aspp_dropout,
    )
    aux = {"aux": FCNHead(encoder.out_channels[3], num_classes)} if cfg.deeplabv3plus_aux_weight > 0 else {}
    head = SegmentationHead(decoder.out_channels, num_classes, upsampling=4)
    # The deepest map is at the output stride: inputs padded to it give every map an exact size.
    return SegmentationModel(encoder, decoder, head, pad_multiple=stride, aux_heads=aux)


def aux_weights(cfg) -> dict:
    return {"aux": cfg.deeplabv3plus_aux_weight} if cfg.deeplabv3plus_aux_weight > 0 else {}
