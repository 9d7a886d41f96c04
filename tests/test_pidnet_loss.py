"""PIDNet's training loss against OpenCV and hand computation: the boundary targets, the balanced BCE, the > 0.8 rule,
the 0.4 weight and OHEM on the main output only."""

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models.pidnet_loss import PIDNetLoss, balanced_bce, boundary_targets, canny_label_edges
from models.registry import training_loss
from utils.config.schema import ModelConfig
from utils.losses import build_loss


def authors_edges(label: np.ndarray) -> np.ndarray:
    """Their rule (datasets/base_dataset.py), without the 6-pixel frame they clear around a whole image."""
    return cv2.dilate(cv2.Canny(label, 0.1, 0.2), np.ones((4, 4), np.uint8), iterations=1) > 50


def random_labels(rng, h: int, w: int) -> np.ndarray:
    """Blocky label maps (classes 0..18 and 255), sometimes pixel noise: every gradient direction and tie."""
    values = np.array([*range(19), 255], dtype=np.uint8)
    if rng.random() < 0.3:
        return rng.choice(values, size=(h, w))
    grid = rng.choice(values[: rng.integers(2, 21)], size=tuple(rng.integers(1, 10, size=2)))
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_NEAREST)


def test_edges_are_opencvs_canny_and_dilation_pixel_for_pixel():
    rng = np.random.default_rng(0)
    for _ in range(40):
        label = random_labels(rng, *(int(v) for v in rng.integers(5, 48, size=2)))
        target = torch.from_numpy(label).long()[None]
        assert np.array_equal(canny_label_edges(target)[0].numpy(), cv2.Canny(label, 0.1, 0.2) > 0)
        assert np.array_equal(boundary_targets(target, ignore_index=-1)[0].numpy() > 0, authors_edges(label))


def test_ignored_pixels_are_never_boundary_pixels():
    label = np.zeros((12, 12), np.uint8)
    label[:, 6:] = 255  # e.g. a crop's padding
    edges = boundary_targets(torch.from_numpy(label).long()[None])[0]
    assert edges[:, 6:].sum() == 0 and edges[:, :6].sum() > 0
    assert torch.equal(edges[:, :6], torch.from_numpy(authors_edges(label)[:, :6]).float())


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_balanced_bce_by_hand():
    edges = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    logits = torch.tensor([[[[2.0, -1.0], [0.0, 1.0]]]])
    # One boundary pixel of four: it weighs 3/4 and the others 1/4; BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x).
    expected = (0.75 * softplus(-2.0) + 0.25 * (softplus(-1.0) + softplus(0.0) + softplus(1.0))) / 4
    assert balanced_bce(logits, edges).item() == pytest.approx(expected, rel=1e-6)
    assert balanced_bce(logits, torch.zeros(1, 2, 2)).item() == 0.0  # no boundary: both weights are 0


class Recorder(nn.Module):
    """A criterion that records what it is given and returns 1 per labelled pixel."""

    ignore_index = 255

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, logits, target):
        self.calls.append((logits, target.clone()))
        return target.ne(self.ignore_index).sum().float()


def test_the_terms_their_weights_and_the_boundary_rule():
    target = torch.tensor([[[0, 1, 2, 255]]])
    # sigmoid: 0.95, 0.73, 0.88, 0.8 - 1e-4: only the first and third are boundary pixels for the third term.
    d = torch.tensor([[[[3.0, 1.0, 2.0, math.log(0.8 / 0.2) - 5e-4]]]])
    outputs = {"out": torch.zeros(1, 3, 1, 4), "p": torch.ones(1, 3, 1, 4), "d": d}
    recorder = Recorder()
    loss = PIDNetLoss(recorder, boundary_weight=0.0)(outputs, target)
    (main, main_target), (aux, aux_target), (bas, bas_target) = recorder.calls
    assert main is outputs["out"] and aux is outputs["p"] and bas is outputs["out"]
    assert torch.equal(main_target, target) and torch.equal(aux_target, target)
    assert bas_target.tolist() == [[[0, 255, 2, 255]]]
    assert loss.item() == pytest.approx(3 + 0.4 * 3 + 2)  # 1.0 x main + 0.4 x aux + 1.0 x boundary-aware


def test_the_whole_loss_by_hand():
    g = torch.Generator().manual_seed(0)
    label = np.zeros((8, 8), np.uint8)
    label[:, 4:], label[6:, :2] = 1, 255
    target = torch.from_numpy(label).long()[None]
    outputs = {k: torch.randn(1, c, 8, 8, generator=g) for k, c in (("out", 2), ("p", 2), ("d", 1))}
    criterion = build_loss("ce_dice", 2, bce_weight=1.0)  # pure CE: the recipe's setting
    got = PIDNetLoss(criterion)(outputs, target)

    edges = torch.from_numpy(authors_edges(label) & (label != 255)).float()[None]
    bas_target = torch.where(torch.sigmoid(outputs["d"][:, 0]) > 0.8, target, 255)
    expected = (
        F.cross_entropy(outputs["out"], target, ignore_index=255)
        + 0.4 * F.cross_entropy(outputs["p"], target, ignore_index=255)
        + 20 * balanced_bce(outputs["d"], edges)
        + F.cross_entropy(outputs["out"], bas_target, ignore_index=255)
    )
    assert bas_target.ne(255).any() and edges.sum() > 0
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_ohem_applies_to_the_main_output_only():
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 3, (2, 8, 8), generator=g)
    # Confident logits: many pixels above 0.9 on their true class, which OHEM drops.
    outputs = {"out": 6 * torch.randn(2, 3, 8, 8, generator=g), "p": 6 * torch.randn(2, 3, 8, 8, generator=g)}
    outputs["d"] = torch.full((2, 1, 8, 8), -10.0)  # no boundary pixel: the third term is 0
    ohem = build_loss("ce_dice", 3, bce_weight=1.0, ohem_thresh=0.9, ohem_min_kept=10)
    plain = build_loss("ce_dice", 3, bce_weight=1.0)
    got = PIDNetLoss(ohem, boundary_weight=0.0)(outputs, target)
    assert ohem.ohem_thresh == 0.9  # the configured criterion is left as it was
    expected = ohem(outputs["out"], target) + 0.4 * plain(outputs["p"], target)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    assert ohem(outputs["out"], target).item() != pytest.approx(plain(outputs["out"], target).item())


def test_validation_logits_take_the_criterion_alone():
    criterion = build_loss("ce_dice", 3, bce_weight=1.0)
    logits, target = torch.randn(1, 3, 4, 4), torch.randint(0, 3, (1, 4, 4))
    assert torch.equal(PIDNetLoss(criterion)(logits, target), criterion(logits, target))


def test_the_registry_gives_pidnet_its_loss_with_the_configured_weights():
    cfg = ModelConfig(arch="pidnet", pidnet_aux_weight=0.5, pidnet_boundary_weight=10.0, pidnet_bas_weight=2.0)
    loss = training_loss(cfg, build_loss("ce_dice", 3))
    assert isinstance(loss, PIDNetLoss) and (loss.aux_weight, loss.boundary_weight, loss.bas_weight) == (0.5, 10, 2)
