import urllib.error

import pytest
import torch
import torchvision

from models import build_model, count_parameters
from utils.config.errors import UserError

RESNEXT50_ENCODER = 22_979_904  # torchvision resnext50_32x4d without its classifier


@pytest.mark.parametrize(
    "arch,kwargs", [("fpn", {}), ("fpn", {"fpn_merge": "cat"}), ("unet", {}), ("unet", {"unet_preset": "original"}), ("unet", {"unet_preset": "original", "unet_res_blocks": True})]
)
@pytest.mark.parametrize("size", [(375, 1242), (96, 160), (33, 47)])
def test_logits_have_the_input_size(arch, kwargs, size):
    model = build_model(arch, "resnet18", num_classes=3, **kwargs).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
    assert out.shape == (1, 3, *size)


@pytest.mark.parametrize("encoder", ["resnet34", "resnet50"])
def test_other_encoders(encoder):
    model = build_model("fpn", encoder, num_classes=2).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 96)).shape == (1, 2, 64, 96)


def test_fpn_resnext50_parameter_counts():
    # The original's README and smp 0.6.0 both give 25,587,776 + 129 per class.
    assert count_parameters(build_model("fpn", "resnext50", 8)) == 25_588_808
    assert count_parameters(build_model("fpn", "resnext50_32x4d", 19)) == 25_587_776 + 129 * 19


def test_unet_parameter_counts():
    assert count_parameters(build_model("unet", "resnext50", 8)) == 31_992_832 + 145 * 8  # smp Unet-resnext50
    original = count_parameters(build_model("unet", "resnext50", 8, unet_preset="original"))
    residual = count_parameters(build_model("unet", "resnext50", 8, unet_preset="original", unet_res_blocks=True))
    # The original's published 81,091,464 / 92,014,472 come from torchsummary counting the shared
    # encoder twice; the architecture itself holds one encoder.
    assert original == 58_111_560 and original + RESNEXT50_ENCODER == 81_091_464
    assert residual == 69_034_568 and residual + RESNEXT50_ENCODER == 92_014_472


def test_bad_names():
    with pytest.raises(UserError, match="Did you mean 'resnext50'"):
        build_model("fpn", "resnex50", 2)
    with pytest.raises(UserError, match="model.arch"):
        build_model("pspnet", "resnet18", 2)


def test_offline_imagenet_weights_error_says_how_to_fix(monkeypatch):
    def offline(*args, **kwargs):
        if kwargs.get("weights") is not None:
            raise urllib.error.URLError("no network")
        return real(*args, **kwargs)

    real = torchvision.models.get_model
    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.raises(UserError) as err:
        build_model("fpn", "resnet18", 2, encoder_weights="imagenet")
    message = str(err.value)
    assert "https://download.pytorch.org/models/resnet18" in message and "hub/checkpoints/resnet18" in message and "encoder_weights: null" in message
