"""pidnet: PIDNet-S/M/L (Xu, Xiong, Bhattacharyya, CVPR 2023), the real-time three-branch network, with its own
backbone and its own training loss (P auxiliary, D boundary and boundary-aware terms)."""

from dataclasses import dataclass
from typing import Literal

from utils.config.declare import not_negative, opt

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
    pidnet_aux_weight: float = opt(
        0.4,
        "pidnet: loss weight of the P branch's logits (the configured loss without OHEM)",
        on_resume="free",
        rule=not_negative(),
    )
    pidnet_boundary_weight: float = opt(
        20.0,
        "pidnet: loss weight of the class-balanced BCE of the D branch against the label map's Canny edges",
        on_resume="free",
        rule=not_negative(),
    )
    pidnet_bas_weight: float = opt(
        1.0,
        "pidnet: loss weight of the boundary-aware term: the configured loss of the logits on the pixels where "
        "sigmoid(D) > 0.8",
        on_resume="free",
        rule=not_negative(),
    )


def describe(cfg) -> str:
    return f"pidnet-{cfg.pidnet_size} (its own backbone)"


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
    return {"p": cfg.pidnet_aux_weight}


def training_loss(cfg, criterion):
    from models.pidnet_loss import PIDNetLoss

    return PIDNetLoss(criterion, cfg.pidnet_aux_weight, cfg.pidnet_boundary_weight, cfg.pidnet_bas_weight)
