"""pidnet: PIDNet-S/M/L (Xu, Xiong, Bhattacharyya, CVPR 2023), the real-time three-branch network, with its own
backbone and its own training loss (P auxiliary, D boundary and boundary-aware terms)."""

from dataclasses import dataclass
from typing import Literal

from utils.config.declare import opt

SUMMARY = "PIDNet-S/M/L, real-time three-branch network with its own backbone (model.encoder is not read)"
OUTPUT_STRIDE = 8


@dataclass(frozen=True)
class Keys:
    pidnet_size: Literal["s", "m", "l"] = opt(
        "s",
        "pidnet: s, m or l (7.6M / 28.5M / 36.9M parameters at inference with 19 classes). PIDNet has its own "
        "backbone: model.encoder is not read, and model.encoder_weights takes the authors' ImageNet file "
        "(PIDNet_S_ImageNet.pth.tar etc.; imagenet says where to get it) or null",
        on_resume="match",
    )


def build(cfg, num_classes: int):
    from models.pidnet import PIDNetModel
    from models.pidnet_weights import imagenet_error, load_pidnet_weights

    # model.encoder is not read: its default names a ResNeXt, and configs written for FPN carry one; refusing every
    # value but the default would make switching model.arch a two-key edit for nothing.
    if cfg.encoder_weights == "imagenet":
        raise imagenet_error(cfg.pidnet_size)
    model = PIDNetModel(num_classes, cfg.pidnet_size)
    if cfg.encoder_weights is not None:
        load_pidnet_weights(model.pidnet, cfg.encoder_weights, cfg.pidnet_size)
    return model


def aux_weights(cfg) -> dict:
    """The P branch's logits; the D branch's boundary logits are for the architecture's own loss."""
    return {"p": 0.4}  # the authors' weight
