"""PIDNet against the authors' code: the same state-dict keys and shapes, the same logits, the same parameter counts.

tests/pidnet_reference/ holds what the authors' ``models/pidnet.py`` (github XuJiacong/PIDNet) gave, run outside this
repository (README.md there): their key list with shapes per size, and their outputs on a fixed input with the
deterministic weights of :func:`reference_tensor`. Here the same weights go into our model under ``pidnet.``.
"""

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.pidnet import PIDNetModel, inference_parameters
from models.registry import build_model, count_parameters

REFERENCE = Path(__file__).parent / "pidnet_reference"
OFFICIAL = json.loads((REFERENCE / "official_keys.json").read_text())
# Counted from the authors' code (FACTS.md): (at inference, with the training heads), 19 classes.
COUNTS = {"s": (7_625_715, 7_720_935), "m": (28_538_515, 28_763_111), "l": (36_939_571, 37_314_311)}


def reference_tensor(key: str, shape: tuple) -> torch.Tensor:
    """A weight drawn from a generator seeded by the key's CRC-32: conv weights at 1/sqrt(fan_in), BN scales near 1,
    positive running variances, so that 30 layers keep activations near 1."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    if key.endswith("running_var"):
        return 0.5 + torch.rand(shape, generator=g)
    if key.endswith("running_mean"):
        return 0.1 * torch.randn(shape, generator=g)
    if len(shape) == 4:
        return torch.randn(shape, generator=g) / (shape[1] * shape[2] * shape[3]) ** 0.5
    if key.endswith("weight"):
        return 1 + 0.1 * torch.randn(shape, generator=g)
    return 0.1 * torch.randn(shape, generator=g)


def reference_input(batch: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, 3, 64, 128, generator=torch.Generator().manual_seed(seed))


def assert_matches(ours: torch.Tensor, theirs: torch.Tensor, atol: float = 1e-5) -> None:
    """float32 agreement: with one CPU thread the outputs are bitwise the authors'; with more, sums are split
    otherwise and differ by up to about 1e-5 on logits of about 3 (measured with 2 threads: 2e-6 in eval mode, 1.1e-5
    in training mode, whose batch statistics over 2 x 1 x 2 pixels at 1/64 amplify the rounding)."""
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=atol)


def official_keys(size: str) -> list:
    return [(key, tuple(shape)) for key, shape in OFFICIAL["sizes"][size]["keys"]]


def loaded_model(size: str) -> PIDNetModel:
    model = PIDNetModel(19, size)
    model.load_state_dict({f"pidnet.{key}": reference_tensor(key, shape) for key, shape in official_keys(size)})
    return model


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_keys_and_shapes_are_the_authors_under_one_prefix(size):
    ours = [(key, tuple(value.shape)) for key, value in PIDNetModel(19, size).state_dict().items()]
    assert ours == [(f"pidnet.{key}", shape) for key, shape in official_keys(size)]


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_eval_logits_equal_the_authors(size):
    model = loaded_model(size).eval()
    theirs = torch.from_numpy(np.load(REFERENCE / f"logits_{size}.npy"))
    with torch.no_grad():
        eighth = model.pidnet(reference_input(1, 0))
        full = model(reference_input(1, 0))
    assert eighth.shape == (1, 19, 8, 16)
    assert_matches(eighth, theirs)
    # What users get: the authors' 1/8 logits, upsampled as their evaluation does.
    expected = F.interpolate(theirs, size=(64, 128), mode="bilinear", align_corners=True)
    assert full.shape == (1, 19, 64, 128)
    assert_matches(full, expected)


def test_training_outputs_equal_the_authors():
    """P, I and D in training mode (batch statistics), PIDNet-S: the authors' in-place ReLUs included."""
    model = loaded_model("s").train()
    with torch.no_grad():
        outputs = model.pidnet(reference_input(2, 1))
        returned = model(reference_input(2, 1))
    for name, ours in zip("pid", outputs):
        theirs = torch.from_numpy(np.load(REFERENCE / f"train_s_{name}.npy"))
        assert_matches(ours, theirs, atol=5e-5)
    assert set(returned) == {"out", "p", "d"}
    assert returned["out"].shape == returned["p"].shape == (2, 19, 64, 128) and returned["d"].shape == (2, 1, 64, 128)


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_parameter_counts(size):
    model = build_model("pidnet", num_classes=19, pidnet_size=size)
    inference, training = COUNTS[size]
    assert count_parameters(model) == training == OFFICIAL["sizes"][size]["parameters"]
    assert inference_parameters(model) == inference == OFFICIAL["sizes"][size]["inference_parameters"]


@pytest.mark.parametrize("size", [(375, 1242), (33, 47), (64, 128)])
def test_any_input_size(size):
    model = build_model("pidnet", num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, *size)).shape == (1, 3, *size)


def test_padding_leaves_the_kept_pixels_alone_when_none_is_needed():
    """A 128x128 input is a multiple of 64: the model's output is exactly the network's, upsampled."""
    model = build_model("pidnet", num_classes=2).eval()
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        expected = F.interpolate(model.pidnet(x), size=(128, 128), mode="bilinear", align_corners=True)
        assert torch.equal(model(x), expected)
