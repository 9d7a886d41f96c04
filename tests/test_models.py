import urllib.error

import pytest
import torch
import torchvision

from models.registry import build_model, count_parameters
from utils.config.errors import UserError

RESNEXT50_ENCODER = 22_979_904  # torchvision resnext50_32x4d without its classifier


@pytest.mark.parametrize(
    "arch,kwargs",
    [
        ("fpn", {}),
        ("fpn", {"fpn_merge": "cat"}),
        ("unet", {}),
        ("unet", {"unet_preset": "original"}),
        ("unet", {"unet_preset": "original", "unet_res_blocks": True}),
    ],
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
    assert (
        "https://download.pytorch.org/models/resnet18" in message
        and "hub/checkpoints/resnet18" in message
        and "encoder_weights: null" in message
    )
    assert "set model.encoder_weights to the downloaded file's path" in message


TIMM_ENCODERS = ["tu-resnet18", "tu-convnext_atto", "tu-efficientnet_b0", "tu-pvt_v2_b0"]


@pytest.mark.parametrize("arch", ["fpn", "unet"])
@pytest.mark.parametrize("encoder", TIMM_ENCODERS)
def test_timm_encoders_train_a_step_at_an_odd_size_like_kittis(arch, encoder):
    """ConvNeXt and PVTv2 start at stride 4, ResNet and EfficientNet at stride 2: both decoders take both, at half
    KITTI's 375x1242: both sides odd and no multiple of 32, so every stride rounds."""
    torch.manual_seed(0)
    model = build_model(arch, encoder, num_classes=2).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    first = next(model.encoder.parameters()).detach().clone()
    logits = model(torch.randn(1, 3, 187, 621))
    assert logits.shape == (1, 2, 187, 621)
    torch.nn.functional.cross_entropy(logits, torch.randint(0, 2, (1, 187, 621))).backward()
    optimizer.step()
    assert not torch.equal(first, next(model.encoder.parameters()))  # the encoder learns too
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)  # DDP needs every parameter used


def test_timm_stride4_encoder_has_no_stride2_map():
    enc = build_model("unet", "tu-convnext_atto", 2).encoder
    assert enc.out_channels[0] == 0 and enc.out_channels[1:] == [40, 80, 160, 320]
    maps = enc(torch.zeros(1, 3, 64, 96))
    assert maps[0] is None and [tuple(m.shape[-2:]) for m in maps[1:]] == [(16, 24), (8, 12), (4, 6), (2, 3)]


def test_timm_encoder_with_other_normalisation_sees_its_own():
    """mobilevit was trained on [0, 1] inputs; our loaders normalise with ImageNet statistics."""
    enc = build_model("fpn", "tu-mobilevit_xxs", 2).encoder.eval()
    assert enc.renormalize
    raw = torch.rand(1, 3, 64, 64)
    ours = (raw - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        assert torch.allclose(enc(ours)[-1], enc.model(raw)[-1], atol=1e-4)


def test_timm_errors_name_the_fix():
    with pytest.raises(UserError, match="tu-convnext_atto"):
        build_model("fpn", "tu-convnxt_atto", 2)
    with pytest.raises(UserError, match=r"strides \[16, 16, 16\]"):
        build_model("fpn", "tu-vit_tiny_patch16_224", 2)
    with pytest.raises(UserError, match="fixed input size"):
        build_model("fpn", "tu-swin_tiny_patch4_window7_224", 2)
    with pytest.raises(UserError, match="unet_preset: light"):
        build_model("unet", "tu-resnet18", 2, unet_preset="original")


def test_offline_timm_weights_error_says_how_to_fix(monkeypatch):
    import timm
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        if kwargs.get("pretrained"):
            raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub")
        return real(*args, **kwargs)

    real = timm.create_model
    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(UserError) as err:
        build_model("fpn", "tu-convnext_atto", 2, encoder_weights="imagenet")
    message = str(err.value)
    assert (
        "huggingface-cli download timm/convnext_atto.d2_in1k" in message
        and "models--timm--convnext_atto.d2_in1k" in message
    )
    assert "encoder_weights: null" in message and "LocalEntryNotFoundError" in message
    assert "point model.encoder_weights at the model.safetensors it fetches" in message


def test_build_model_takes_exactly_the_model_config_keys():
    """A ModelConfig field that build_model does not take (or the reverse) fails here, not in a user's run."""
    import dataclasses
    import inspect

    from utils.config.schema import ModelConfig

    params = inspect.signature(build_model).parameters
    assert set(params) == {f.name for f in dataclasses.fields(ModelConfig)} | {"num_classes"}
    # The defaults are the config's, but for encoder_weights: a library call downloads nothing unless asked.
    defaults = {name: p.default for name, p in params.items() if name not in ("num_classes", "encoder_weights")}
    assert {**defaults, "unet_decoder_channels": list(defaults["unet_decoder_channels"])} == {
        k: v for k, v in dataclasses.asdict(ModelConfig()).items() if k in defaults
    }
    assert params["encoder_weights"].default is None
