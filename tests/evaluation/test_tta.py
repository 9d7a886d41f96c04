import pytest
import torch

from utils.evaluation.tta import merge_probabilities, predict_with_tta, tta_views


class SymmetricBlur(torch.nn.Module):
    """A flip-equivariant 'model': a symmetric 3x3 box filter, then softmax over channels."""

    def forward(self, x):
        kernel = torch.ones(x.shape[1], 1, 3, 3) / 9
        return torch.softmax(torch.nn.functional.conv2d(x, kernel, padding=1, groups=x.shape[1]), dim=1)


def test_flip_tta_on_an_equivariant_model_equals_the_plain_output():
    x = torch.randn(2, 3, 16, 24)
    model = SymmetricBlur()
    plain = model(x)
    for mode in ("hflip", "vflip", "hvflip"):
        assert torch.allclose(predict_with_tta(model, x, tta_views(mode)), plain, atol=1e-6), mode


def test_views_are_undone_per_view():
    x = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(1, 2, 8, 8)
    asymmetric = lambda t: torch.softmax(t * torch.linspace(0, 1, t.shape[-1]), dim=1)  # noqa: E731
    merged = predict_with_tta(asymmetric, x, tta_views("hflip"))
    flipped = torch.flip(asymmetric(torch.flip(x, [-1])), [-1])
    assert torch.allclose(merged, (asymmetric(x) + flipped) / 2)


def test_multiscale_returns_input_size():
    views = tta_views("multiscale", (0.5, 1.0, 1.5), flip=True)
    assert len(views) == 6 and {v.scale for v in views} == {0.5, 1.0, 1.5}
    out = predict_with_tta(SymmetricBlur(), torch.randn(1, 3, 64, 96), views)
    assert out.shape == (1, 3, 64, 96)


def test_merge_formulas():
    p = torch.tensor([0.2, 0.8, 0.5]).view(3, 1, 1, 1, 1)  # three views of one pixel
    assert merge_probabilities(p, "mean").item() == pytest.approx(0.5)  # divided by views, not batch
    assert merge_probabilities(p, "gmean").item() == pytest.approx((0.2 * 0.8 * 0.5) ** (1 / 3))
    assert merge_probabilities(p, "tsharpen", t=0.5).item() == pytest.approx((0.2**0.5 + 0.8**0.5 + 0.5**0.5) / 3)
    assert merge_probabilities(p[:1].expand(4, 1, 1, 1, 1), "mean").item() == pytest.approx(0.2)


@pytest.mark.parametrize("merge", ["mean", "gmean"])
def test_hvflip_gives_ttach_predictions(merge):
    """A user moving from ttach's Compose([HorizontalFlip(), VerticalFlip()]) gets the same merged output."""
    ttach = pytest.importorskip("ttach")
    torch.manual_seed(0)
    x = torch.randn(2, 3, 12, 20)
    # A model that is not flip-equivariant: each view really predicts something different.
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(4, 4, 3, padding=1))
    ramp = torch.linspace(-2, 2, 20).view(1, 1, 1, 20) + torch.linspace(0, 1, 12).view(1, 1, 12, 1)
    probs = lambda t: torch.softmax(model(t) + ramp, dim=1)  # noqa: E731

    class Wrapped(torch.nn.Module):
        def forward(self, t):
            return probs(t)

    reference = ttach.SegmentationTTAWrapper(
        Wrapped(), ttach.Compose([ttach.HorizontalFlip(), ttach.VerticalFlip()]), merge_mode=merge
    )
    with torch.no_grad():
        expected = reference(x)
        got = predict_with_tta(probs, x, tta_views("hvflip"), merge)
    assert len(tta_views("hvflip")) == len(reference.transforms) == 4
    assert torch.allclose(got, expected, atol=1e-6)
