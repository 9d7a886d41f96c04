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
OUTPUT_STRIDES = (8, 16, 32)


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


def check_output_stride(output_stride: int) -> None:
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be one of {OUTPUT_STRIDES}, got {output_stride}")


def replace_strides_with_dilation(module: nn.Module, rate: int) -> None:
    """Every Conv2d in ``module`` gets stride 1, dilation ``rate`` and padding (k // 2) * rate: smp's
    ``encoders/_utils.py``, so that smp's DeepLabV3+ weights give the same logits here.

    torchvision's ``replace_stride_with_dilation`` differs: it leaves the first block of a dilated stage at the
    previous dilation (1 in layer4 at output stride 16); smp dilates that block too.
    """
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            kh, kw = conv.kernel_size
            conv.stride, conv.dilation = (1, 1), (rate, rate)
            conv.padding = ((kh // 2) * rate, (kw // 2) * rate)


class ResNetEncoder(nn.Module):
    """Features at strides 2, 4, 8, 16 and 32 with ``out_channels`` channels; the classifier is dropped.

    Args:
        name: a torchvision ResNet/ResNeXt name.
        weights: imagenet (torchvision's weights API), a local file of torchvision's state dict for ``name``, or None.
        output_stride: 32, or 16 / 8 for DeepLabV3+: the stages past it keep their resolution, dilated as smp's
            ``make_dilated`` does (layer4 by 2 at 16; layer3 by 2 and layer4 by 4 at 8).
    """

    def __init__(self, name: str, weights: str = None, output_stride: int = 32):
        super().__init__()
        check_output_stride(output_stride)
        name = canonical_encoder_name(name)
        net = _load_pretrained(name) if weights == "imagenet" else torchvision.models.get_model(name, weights=None)
        self.name, self.out_channels, self.output_stride = name, ENCODERS[name], output_stride
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        if is_weights_file(weights):  # the encoder's keys are the classification model's, less fc.*
            source = f"torchvision's file for it, {_imagenet_weights(name).url}"
            load_encoder_weights(
                self, weights, net.state_dict(), {k: k for k in self.state_dict()}, f"torchvision's {name}", source
            )
        for stage, stride in ((self.layer3, 16), (self.layer4, 32)):
            if stride > output_stride:  # dilation changes no weight: loaded weights stay valid
                replace_strides_with_dilation(stage, stride // output_stride)

    def forward(self, x: torch.Tensor) -> list:
        c1 = self.relu(self.bn1(self.conv1(x)))
        c2 = self.layer1(self.maxpool(c1))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c1, c2, c3, c4, c5]


def build_encoder(name: str, weights: str = None, output_stride: int = 32) -> nn.Module:
    """A torchvision ResNet/ResNeXt by name, or ``tu-<timm name>``; ``out_channels`` lists the five maps' widths.

    ``output_stride`` 16 or 8 dilates the deepest stages instead of striding them: the five maps are then at
    strides 2, 4, 8, min(16, os) and os.
    """
    if is_timm_encoder(name):
        return TimmEncoder(name, weights, output_stride)
    return ResNetEncoder(name, weights, output_stride)
