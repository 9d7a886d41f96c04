"""DeepLabV3+, UPerNet and SegFormer are smp 0.6's networks layer for layer: an smp state dict loads through
models/smp_keys.py and gives the same logits, and the parameter counts are smp's."""

import pytest
import torch

from models.registry import build_model, count_parameters
from models.smp_keys import from_smp
from utils.config.errors import UserError

smp = pytest.importorskip(
    "segmentation_models_pytorch", reason="the reference networks come from segmentation-models-pytorch>=0.6"
)

# (arch, encoder, smp class name, smp kwargs, our model keys, input H, W, smp's parameter count or None).
# The inputs are large enough for ASPP's rates and the pyramid's 6x6 bins to reach real pixels, not padding.
CASES = [
    ("deeplabv3plus", "resnet50", "DeepLabV3Plus", {}, {}, (256, 320), 26_682_211),
    (
        "deeplabv3plus",
        "resnet18",
        "DeepLabV3Plus",
        {"encoder_output_stride": 8},
        {"deeplabv3plus_output_stride": 8},
        (256, 320),
        None,
    ),
    ("deeplabv3plus", "tu-resnet18", "DeepLabV3Plus", {}, {}, (128, 160), None),  # timm dilates it
    ("upernet", "resnet50", "UPerNet", {}, {}, (192, 192), 37_289_299),
    ("segformer", "tu-pvt_v2_b2", "Segformer", {}, {}, (64, 64), 25_380_563),
    ("segformer", "resnet18", "Segformer", {}, {}, (64, 64), None),  # a CNN: smp reads its stride-2 map too
]


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    """Running statistics other than 0 and 1, so that eval mode checks that every BatchNorm lands where smp's is."""
    generator = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=generator) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)


@pytest.mark.parametrize(
    "arch,encoder,smp_class,smp_kwargs,keys,size,count", CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES]
)
def test_smp_state_dict_gives_the_same_logits(arch, encoder, smp_class, smp_kwargs, keys, size, count):
    torch.manual_seed(0)
    theirs = getattr(smp, smp_class)(encoder_name=encoder, encoder_weights=None, classes=19, **smp_kwargs).eval()
    _randomise_batchnorm(theirs)
    ours = build_model(arch, encoder, 19, **keys).eval()
    ours.load_state_dict(from_smp(arch, theirs.state_dict()))  # strict: every key of both sides is matched

    assert count_parameters(ours) == sum(p.numel() for p in theirs.parameters())
    if count is not None:
        assert count_parameters(ours) == count
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    assert got.shape == expected.shape == (2, 19, *size)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), (got - expected).abs().max()


@pytest.mark.parametrize("arch", ["deeplabv3plus", "upernet", "segformer"])
def test_any_input_size(arch):
    model = build_model(arch, "tu-pvt_v2_b0" if arch == "segformer" else "resnet18", 3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 37, 75)).shape == (1, 3, 37, 75)


def test_output_stride_dilates_instead_of_striding():
    model = build_model("deeplabv3plus", "resnet18", 2, deeplabv3plus_output_stride=8)
    with torch.no_grad():
        maps = model.encoder(torch.zeros(1, 3, 64, 64))
    assert [m.shape[-1] for m in maps] == [32, 16, 8, 8, 8]
    # smp's make_dilated: the first block of a dilated stage is dilated too (torchvision's would keep it at 1 in
    # layer3 and 2 in layer4).
    assert model.encoder.layer3[0].conv1.dilation == (2, 2) and model.encoder.layer4[0].conv1.dilation == (4, 4)
    assert model.encoder.layer4[0].downsample[0].stride == (1, 1)


def test_timm_encoder_without_output_stride_is_one_line():
    with pytest.raises(UserError, match="cannot run at output stride 16") as err:
        build_model("deeplabv3plus", "tu-pvt_v2_b0", 2)
    assert "\n" not in str(err.value) and "tu-convnext_tiny" in str(err.value)


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_exportable_pyramid_pooling_is_adaptive_average_pooling(bins):
    from models.upernet import AdaptiveAvgPool

    pool = AdaptiveAvgPool(bins)
    for size in [(2, 4), (3, 5), (7, 13), (12, 24)]:  # smaller than, not divisible by and divisible by the bins
        x = torch.randn(2, 3, *size)
        sliced = pool._pool(pool._pool(x, 2), 3)  # what the exporter traces
        assert torch.allclose(sliced, torch.nn.functional.adaptive_avg_pool2d(x, bins), atol=1e-6)
