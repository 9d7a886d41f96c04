import math

import pytest
import torch
import torch.nn.functional as F

from utils.config.errors import UserError
from utils.labels import IGNORE_INDEX
from utils.losses import BCEDiceLoss, CEDiceLoss, build_loss


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
