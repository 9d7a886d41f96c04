"""The FCN auxiliary head of DeepLabV3+ and UPerNet: off by default, and when on, a second map in training only,
weighted into the training loss."""

import pytest
import torch
from torch import nn

from models.registry import aux_weights, build_model_from_config, training_loss
from utils.config.schema import ModelConfig


@pytest.mark.parametrize("arch", ["deeplabv3plus", "upernet"])
def test_aux_head_trains_with_its_weight_and_is_gone_at_inference(arch):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, encoder="resnet18", encoder_weights=None, **{f"{arch}_aux_weight": 0.4})
    model = build_model_from_config(cfg, 5)
    assert aux_weights(cfg) == {"aux": 0.4}
    assert sum(p.numel() for p in model.aux_heads.parameters()) == 256 * 9 * 256 + 2 * 256 + 256 * 5 + 5

    x, target = torch.randn(2, 3, 50, 70), torch.randint(0, 5, (2, 50, 70))
    outputs = model.train()(x)
    assert set(outputs) == {"out", "aux"}
    assert outputs["out"].shape == outputs["aux"].shape == (2, 5, 50, 70)
    criterion = nn.CrossEntropyLoss()
    by_hand = criterion(outputs["out"], target) + 0.4 * criterion(outputs["aux"], target)
    assert torch.allclose(training_loss(cfg, criterion)(outputs, target), by_hand)

    with torch.no_grad():
        logits = model.eval()(x)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 5, 50, 70)


@pytest.mark.parametrize("arch", ["deeplabv3plus", "upernet", "segformer"])
def test_no_aux_head_by_default(arch):
    cfg = ModelConfig(arch=arch, encoder="tu-pvt_v2_b0" if arch == "segformer" else "resnet18", encoder_weights=None)
    model = build_model_from_config(cfg, 3)
    assert aux_weights(cfg) == {} and not any(k.startswith("aux_heads.") for k in model.state_dict())
    criterion = nn.CrossEntropyLoss()
    assert training_loss(cfg, criterion) is criterion
    assert isinstance(model.train()(torch.randn(2, 3, 64, 64)), torch.Tensor)
