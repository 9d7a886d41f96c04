"""The model registry's entry points: ``build_model(arch=..., encoder=..., num_classes=..., **model keys)``.

``model.arch`` picks a declaration module from :data:`models.archs.ARCHITECTURES`; it builds the network and
names its auxiliary outputs. ``build_model``'s keywords are the ``model`` config section's keys (every
architecture's, :class:`utils.config.schema.ModelConfig`) plus ``num_classes``.
"""

import dataclasses
import inspect

from torch import nn

from models.archs import ARCHITECTURES
from models.base import SegmentationModel
from utils.config.errors import UserError
from utils.config.schema import ModelConfig
from utils.losses import WithAuxiliaryOutputs


def architecture(name: str):
    """The declaration module registered as ``name``; an unknown one is a UserError listing the registered ones."""
    if name not in ARCHITECTURES:
        raise UserError(f"Unknown model.arch '{name}'; allowed: {' | '.join(ARCHITECTURES)}.")
    return ARCHITECTURES[name]


def build_model(
    arch: str = "fpn", encoder: str = "resnext50_32x4d", num_classes: int = 8, encoder_weights=None, **keys
):
    """A segmentation model returning (N, num_classes, H, W) logits for (N, 3, H, W) inputs of any size.

    In training mode a model with auxiliary heads returns ``{"out": logits, <name>: logits, ...}`` instead, every
    map at the input size (:func:`aux_weights` gives their loss weights).

    Args:
        arch: a name in models/archs (fpn, unet, ...).
        encoder: a torchvision ResNet/ResNeXt name (``resnext50`` is accepted as the original's), or
            ``tu-<timm model name>`` for any timm model with ``features_only`` maps at strides 4..32.
        num_classes: output channels.
        encoder_weights: imagenet (torchvision weights API, or timm's default pretrained tag), the path of a
            local ``.pth``/``.pt``/``.bin``/``.safetensors`` file of the classification model's state dict, or None
            (not the config's imagenet: a library call downloads nothing unless asked).
        keys: any other ``model`` config key (dropout, fpn_merge, unet_preset, ...); the defaults are the config's.
    """
    return build_model_from_config(
        ModelConfig(arch=arch, encoder=encoder, encoder_weights=encoder_weights, **keys), num_classes
    )


def _signature() -> inspect.Signature:
    """``build_model``'s signature with every model key and the config's default, as if written out: what
    ``help(build_model)`` and an editor show."""
    default, P = ModelConfig(), inspect.Parameter
    head = [
        P("arch", P.POSITIONAL_OR_KEYWORD, default=default.arch),
        P("encoder", P.POSITIONAL_OR_KEYWORD, default=default.encoder),
        P("num_classes", P.POSITIONAL_OR_KEYWORD, default=8),
        P("encoder_weights", P.POSITIONAL_OR_KEYWORD, default=None),
    ]
    named = {p.name for p in head}
    keys = [P(f.name, P.KEYWORD_ONLY, default=getattr(default, f.name)) for f in dataclasses.fields(ModelConfig)]
    return inspect.Signature(head + [p for p in keys if p.name not in named])


build_model.__signature__ = _signature()


def build_model_from_config(model_cfg: ModelConfig, num_classes: int) -> SegmentationModel:
    """The model of a ``model`` config section."""
    if num_classes < 1:
        raise UserError(f"num_classes is {num_classes}; it must be at least 1.")
    return architecture(model_cfg.arch).build(model_cfg, num_classes)


def describe(model_cfg: ModelConfig) -> str:
    """The model in a few words for logs: ``fpn/resnext50_32x4d``, or the architecture's own (``pidnet-s``)."""
    arch = architecture(model_cfg.arch)
    return arch.describe(model_cfg) if hasattr(arch, "describe") else f"{model_cfg.arch}/{model_cfg.encoder}"


def aux_weights(model_cfg: ModelConfig) -> dict:
    """``{output name: loss weight}`` of the auxiliary outputs the model of ``model_cfg`` returns in training."""
    return architecture(model_cfg.arch).aux_weights(model_cfg)


def training_loss(model_cfg: ModelConfig, criterion: nn.Module) -> nn.Module:
    """The loss training minimises: the architecture's own (``training_loss`` in its module, e.g. PIDNet's
    boundary terms), else ``criterion`` on the logits plus each auxiliary output's weighted ``criterion``."""
    arch = architecture(model_cfg.arch)
    if hasattr(arch, "training_loss"):
        return arch.training_loss(model_cfg, criterion)
    weights = arch.aux_weights(model_cfg)
    return WithAuxiliaryOutputs(criterion, weights) if weights else criterion


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
