"""Encoders that return the five feature maps a segmentation decoder needs: torchvision ResNet/ResNeXt, or timm (``tu-``)."""

import difflib

import torch
import torchvision
from torch import nn

from models.local_weights import is_weights_file, load_encoder_weights
from models.timm_encoder import TimmEncoder, is_timm_encoder
from utils.config.errors import UserError

ENCODERS = {
    "resnet18": [64, 64, 128, 256, 512],
    "resnet34": [64, 64, 128, 256, 512],
    "resnet50": [64, 256, 512, 1024, 2048],
    "resnet101": [64, 256, 512, 1024, 2048],
    "resnext50_32x4d": [64, 256, 512, 1024, 2048],
    "resnext101_32x8d": [64, 256, 512, 1024, 2048],
}
ALIASES = {"resnext50": "resnext50_32x4d", "resnext101": "resnext101_32x8d"}


def canonical_encoder_name(name: str) -> str:
    if is_timm_encoder(name):
        return name
    name = ALIASES.get(name, name)
    if name not in ENCODERS:
        valid = list(ENCODERS) + list(ALIASES)
        match = difflib.get_close_matches(name, valid, n=1)
        hint = f" Did you mean '{match[0]}'?" if match else ""
        raise UserError(
            f"Unknown encoder '{name}' (model.encoder).{hint} Valid: {', '.join(valid)}, or tu-<timm model name> "
            "(e.g. tu-convnext_tiny)."
        )
    return name


def _imagenet_weights(name: str):
    return torchvision.models.get_model_weights(name).DEFAULT


def _load_pretrained(name: str) -> nn.Module:
    weights = _imagenet_weights(name)
    try:
        return torchvision.models.get_model(name, weights=weights)
    except Exception as exc:  # urllib, SSL and socket errors all mean the same thing to the user
        filename = weights.url.rsplit("/", 1)[-1]
        target = f"{torch.hub.get_dir()}/checkpoints/{filename}"
        raise UserError(
            f"Could not load ImageNet weights {weights} for encoder '{name}' ({type(exc).__name__}: {exc}). "
            f"On a machine without internet, download {weights.url} elsewhere and copy it to {target} "
            "(or set TORCH_HOME), or set model.encoder_weights to the downloaded file's path, or set "
            "model.encoder_weights: null to train from scratch."
        ) from None


class ResNetEncoder(nn.Module):
    """Features at strides 2, 4, 8, 16 and 32 with ``out_channels`` channels; the classifier is dropped.

    Args:
        name: a torchvision ResNet/ResNeXt name.
        weights: imagenet (torchvision's weights API), a local file of torchvision's state dict for ``name``, or None.
    """

    def __init__(self, name: str, weights: str = None):
        super().__init__()
        name = canonical_encoder_name(name)
        net = _load_pretrained(name) if weights == "imagenet" else torchvision.models.get_model(name, weights=None)
        self.name, self.out_channels = name, ENCODERS[name]
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        if is_weights_file(weights):  # the encoder's keys are the classification model's, less fc.*
            source = f"torchvision's file for it, {_imagenet_weights(name).url}"
            load_encoder_weights(
                self, weights, net.state_dict(), {k: k for k in self.state_dict()}, f"torchvision's {name}", source
            )

    def forward(self, x: torch.Tensor) -> list:
        c1 = self.relu(self.bn1(self.conv1(x)))
        c2 = self.layer1(self.maxpool(c1))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c1, c2, c3, c4, c5]


def build_encoder(name: str, weights: str = None) -> nn.Module:
    """A torchvision ResNet/ResNeXt by name, or ``tu-<timm name>``; ``out_channels`` lists the five maps' widths."""
    return TimmEncoder(name, weights) if is_timm_encoder(name) else ResNetEncoder(name, weights)
