import math

import pytest
import torch
import torch.nn.functional as F

from utils.config.errors import UserError
from utils.labels import IGNORE_INDEX
from utils.losses import (
    BCEDiceLoss,
    CEDiceLoss,
    build_loss,
    logits_from_probabilities,
    loss_activation,
    probabilities,
)


def hand_bce_dice(logits, target, num_classes, w_bce):
    """An independent per-element computation of the documented formula (no ignore pixels)."""
    n, c, h, wd = logits.shape
    p = torch.sigmoid(logits)
    bce, inter, psum, tsum = 0.0, [0.0] * c, [0.0] * c, [0.0] * c
    for b in range(n):
        for k in range(c):
            for y in range(h):
                for x in range(wd):
                    t = 1.0 if target[b, y, x] == k else 0.0
                    q = p[b, k, y, x].item()
                    bce += -(t * math.log(q) + (1 - t) * math.log(1 - q))
                    inter[k] += q * t
                    psum[k] += q
                    tsum[k] += t
    bce /= n * c * h * wd
    dice = sum((2 * inter[k] + 1) / (psum[k] + tsum[k] + 1) for k in range(c)) / c
    return w_bce * bce + (1 - w_bce) * (1 - dice)


def test_bce_dice_matches_hand_computation():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 2, 3)
    target = torch.randint(0, 3, (2, 2, 3))
    loss = BCEDiceLoss(3, bce_weight=0.8)(logits, target)
    assert loss.item() == pytest.approx(hand_bce_dice(logits, target, 3, 0.8), rel=1e-5)


def test_known_values_in_ideal_and_worst_cases():
    target = torch.tensor([[[0, 1], [1, 0]]])
    perfect = F.one_hot(target, 2).permute(0, 3, 1, 2).float() * 200 - 100
    assert BCEDiceLoss(2, 0.5)(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    # Worst case: sigmoid saturates the wrong way. Dice per class = (0 + 1) / (2 + 2 + 1) = 0.2.
    dice_only = BCEDiceLoss(2, bce_weight=0.0)(-perfect, target)
    assert dice_only.item() == pytest.approx(1 - 0.2, abs=1e-6)
    ce_dice = CEDiceLoss(2, bce_weight=1.0)(-perfect, target)
    assert ce_dice.item() == pytest.approx(200.0, rel=1e-4)  # log-softmax gap of 200 on every pixel


def test_ignored_pixels_count_for_nothing():
    torch.manual_seed(1)
    logits = torch.randn(1, 4, 5, 5)
    target = torch.randint(0, 4, (1, 5, 5))
    target[0, :2] = IGNORE_INDEX
    changed = logits.clone()
    changed[:, :, :2] = torch.randn(1, 4, 2, 5) * 50
    for loss in (BCEDiceLoss(4), CEDiceLoss(4)):
        assert loss(logits, target).item() == pytest.approx(loss(changed, target).item(), rel=1e-6)
    all_ignored = torch.full((1, 5, 5), IGNORE_INDEX)
    assert torch.isfinite(CEDiceLoss(4)(logits, all_ignored))


def test_class_weights_scale_terms():
    torch.manual_seed(2)
    logits = torch.randn(1, 2, 4, 4)
    target = torch.randint(0, 2, (1, 4, 4))
    only_first = BCEDiceLoss(2, 1.0, class_weights=[1.0, 0.0])(logits, target)
    p_first = F.binary_cross_entropy_with_logits(logits[:, 0], (target == 0).float())
    assert only_first.item() == pytest.approx(p_first.item(), rel=1e-5)
    ce = CEDiceLoss(2, 1.0, class_weights=[2.0, 1.0])(logits, target)
    assert ce.item() == pytest.approx(F.cross_entropy(logits, target, weight=torch.tensor([2.0, 1.0])).item(), rel=1e-6)
    with pytest.raises(UserError, match="class_weights has 3 entries"):
        build_loss("bce_dice", 2, class_weights=[1, 1, 1])


@pytest.mark.parametrize("cls", [BCEDiceLoss, CEDiceLoss])
def test_dice_term_alone_has_a_gradient(cls):
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 4))
    cls(3, bce_weight=0.0)(logits, target).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_zero_class_weight_on_an_all_zero_weight_crop_is_not_nan():
    logits = torch.randn(1, 3, 4, 4)
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, 0] = IGNORE_INDEX
    loss = CEDiceLoss(3, 0.8, class_weights=[0.0, 1.0, 1.0])(logits, target)
    assert torch.isfinite(loss)


def ce_logits(pixels):
    """(true class, p) per pixel -> (1, 2, 1, W) logits whose softmax gives the true class exactly p, and the target."""
    logits = torch.tensor(
        [[math.log(p), math.log(1 - p)] if k == 0 else [math.log(1 - p), math.log(p)] for k, p in pixels]
    ).T
    return logits.reshape(1, 2, 1, len(pixels)), torch.tensor([[[k for k, _ in pixels]]])


# True-class probabilities 0.9, 0.6, 0.3, 0.8 and one ignored pixel (its logits say 0.01: it must not count).
CE_PIXELS = [(0, 0.9), (0, 0.6), (1, 0.3), (1, 0.8), (0, 0.01)]


@pytest.mark.parametrize(
    "min_kept, kept",
    [
        # sorted 0.3, 0.6, 0.8, 0.9; position min(1, 3): 0.6; threshold max(0.6, 0.7) = 0.7: keeps 0.3 and 0.6
        (1, [(1, 0.3), (0, 0.6)]),
        # position 3: 0.9 > 0.7 is the threshold: keeps 0.3, 0.6 and 0.8
        (3, [(1, 0.3), (0, 0.6), (1, 0.8)]),
        # more than the 4 labelled pixels: position n - 1 = 3, the same as above (PIDNet's crash case)
        (10, [(1, 0.3), (0, 0.6), (1, 0.8)]),
    ],
)
def test_ohem_ce_matches_hand_computation(min_kept, kept):
    logits, target = ce_logits(CE_PIXELS)
    target[0, 0, 4] = IGNORE_INDEX
    weights = [2.0, 1.0]
    loss = build_loss("ce_dice", 2, 1.0, weights, ohem_thresh=0.7, ohem_min_kept=min_kept)(logits, target)
    hand = sum(weights[k] * -math.log(p) for k, p in kept) / sum(weights[k] for k, _ in kept)
    assert loss.item() == pytest.approx(hand, rel=1e-6)


def bce_logits(pixels):
    """(true class, (r0, r1)) per pixel, r_c the probability that class c's binary answer is right -> (1, 2, 1, W) logits, target."""
    logit = lambda q: math.log(q / (1 - q))  # noqa: E731
    cols = [[logit(r[c]) if c == k else logit(1 - r[c]) for c in range(2)] for k, r in pixels]
    return torch.tensor(cols).T.reshape(1, 2, 1, len(pixels)), torch.tensor([[[k for k, _ in pixels]]])


def test_ohem_bce_keeps_the_pixels_with_the_largest_summed_bce():
    # Summed BCE = -log(r0 * r1): products 0.72, 0.45, 0.9405, 0.3. Sorted 0.3, 0.45, ...; position 1: 0.45;
    # threshold max(0.45, 0.7) = 0.7: keeps the pixels with 0.45 and 0.3 (the last pixel is ignored).
    pixels = [(0, (0.9, 0.8)), (1, (0.5, 0.9)), (0, (0.95, 0.99)), (1, (0.6, 0.5)), (0, (0.01, 0.01))]
    logits, target = bce_logits(pixels)
    target[0, 0, 4] = IGNORE_INDEX
    loss = build_loss("bce_dice", 2, 1.0, [2.0, 1.0], ohem_thresh=0.7, ohem_min_kept=1)(logits, target)
    # class weights 2 and 1 on each kept pixel's two BCE terms; divided by kept pixels x mean weight x classes = 2 x 1.5 x 2
    hand = (2 * -math.log(0.5) + 1 * -math.log(0.9) + 2 * -math.log(0.6) + 1 * -math.log(0.5)) / 6
    assert loss.item() == pytest.approx(hand, rel=1e-6)


@pytest.mark.parametrize("name", ["ce_dice", "bce_dice"])
def test_ohem_changes_only_the_pixel_term_and_thresh_1_keeps_every_uncertain_pixel(name):
    torch.manual_seed(3)
    logits = torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    plain = build_loss(name, 3, 0.6)(logits, target)
    # Every probability is below 1 and min_kept is small: OHEM keeps all the labelled pixels.
    assert build_loss(name, 3, 0.6, ohem_thresh=1.0, ohem_min_kept=1)(logits, target).item() == pytest.approx(
        plain.item(), rel=1e-6
    )
    dice_only = build_loss(name, 3, 0.0, ohem_thresh=0.1, ohem_min_kept=1)(logits, target)
    assert dice_only.item() == pytest.approx(build_loss(name, 3, 0.0)(logits, target).item(), rel=1e-6)


@pytest.mark.parametrize("name", ["ce_dice", "bce_dice"])
def test_ohem_on_a_batch_without_labelled_pixels_is_zero_with_a_zero_gradient(name):
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = build_loss(name, 3, 0.8, ohem_thresh=0.7)(
        logits, torch.full((2, 4, 4), IGNORE_INDEX)
    )  # min_kept 100000 > 0 pixels
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits))


def test_ohem_with_one_labelled_pixel_keeps_it_only_when_it_is_hard():
    # n - 1 = 0: the threshold is max(0.7, its own probability), and only pixels below the threshold count.
    one = torch.zeros(1, 1, 1, dtype=torch.long)
    easy = torch.tensor([5.0, 0.0]).view(1, 2, 1, 1)  # p = 0.993
    assert build_loss("ce_dice", 2, 1.0, ohem_thresh=0.7)(easy, one).item() == 0.0
    hard = -easy  # p = 0.0067
    assert build_loss("ce_dice", 2, 1.0, ohem_thresh=0.7)(hard, one).item() == pytest.approx(
        F.cross_entropy(hard, one).item(), rel=1e-6
    )


@pytest.mark.parametrize("loss_name, activation", [("bce_dice", "sigmoid"), ("ce_dice", "softmax")])
def test_the_activation_of_a_loss_and_its_inverse(loss_name, activation):
    logits = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))
    probs = probabilities(logits, loss_name)
    assert loss_activation(loss_name) == activation
    assert torch.allclose(probs.sum(1), torch.ones(2, 3, 5)) == (activation == "softmax")
    back = logits_from_probabilities(probs, activation)
    # sigmoid gives the logits back; softmax gives them up to a per-pixel constant, which softmax ignores
    assert torch.allclose(probabilities(back, loss_name), probs, atol=1e-6)
    assert torch.allclose(back, logits, atol=1e-4) == (activation == "sigmoid")
