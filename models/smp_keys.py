"""Key maps from segmentation_models_pytorch (smp 0.6) state dicts to ours, for the architectures built layer for
layer as smp's: a model trained with smp loads here (``model.load_state_dict(from_smp("upernet", sd))``) and gives
the same logits; tests/test_smp_equivalence.py checks it.

The encoders need no renaming: torchvision ResNets are ``encoder.conv1 ... encoder.layer4`` in both, and timm
encoders ``encoder.model.<timm features_only key>`` in both (smp's ``tu-`` encoders are timm ``features_only``
models too). smp's ``segmentation_head.0`` is our ``head.0``.
"""

import re

# (pattern, replacement) pairs, applied in order with re.sub to every key; a key no pattern matches is kept.
SMP_KEYS = {
    "deeplabv3plus": (
        (r"^decoder\.aspp\.0\.convs\.", "decoder.aspp.branches."),
        (r"^decoder\.aspp\.0\.project\.", "decoder.aspp.project."),
        (r"^decoder\.aspp\.1\.", "decoder.aspp_conv.0."),  # smp: aspp = Sequential(ASPP, SeparableConv2d, BN, ReLU)
        (r"^decoder\.aspp\.2\.", "decoder.aspp_conv.1."),
        (r"^decoder\.block1\.", "decoder.low_level."),
        (r"^decoder\.block2\.", "decoder.fuse."),
        (r"^segmentation_head\.", "head."),
    ),
    "upernet": (
        (r"^decoder\.feature_norms\.", "decoder.norms."),
        (r"^decoder\.psp\.blocks\.", "decoder.ppm.stages."),
        (r"^decoder\.psp\.out_conv\.", "decoder.ppm.bottleneck."),
        (r"^decoder\.fpn_lateral_blocks\.(\d+)\.conv_norm_relu\.", r"decoder.laterals.\1."),
        (r"^decoder\.fpn_conv_blocks\.", "decoder.fpn_convs."),
        (r"^decoder\.fusion_block\.", "decoder.fuse."),
        (r"^segmentation_head\.", "head."),
    ),
    "segformer": (
        (r"^decoder\.mlp_stage\.", "decoder.mlps."),
        (r"^decoder\.fuse_stage\.", "decoder.fuse."),
        (r"^segmentation_head\.", "head."),
    ),
}


def smp_key(arch: str, key: str) -> str:
    """Our name for smp's state-dict ``key`` of architecture ``arch`` (a name in :data:`SMP_KEYS`)."""
    for pattern, replacement in SMP_KEYS[arch]:
        key = re.sub(pattern, replacement, key)
    return key


def from_smp(arch: str, state_dict: dict) -> dict:
    """An smp model's state dict with our key names; load it with ``strict=True`` to catch what does not fit."""
    return {smp_key(arch, key): value for key, value in state_dict.items()}
