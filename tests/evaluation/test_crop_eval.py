"""Training on crops of scaled images and evaluating at the training scale (whole images and sliding windows),
from the checkpoint's weights alone."""

import json
import urllib.error

import pytest
import torch
import torchvision
from conftest import train_quickstart

import eval as eval_script
from models.base import SegmentationModel
from utils.config.loading import config_from_dict
from utils.data.transforms import CatMaxRatioCrop, train_transform, training_crop
from utils.evaluation.inference import ModelRunner
from utils.evaluation.setup import _windows, scale_warnings


@pytest.fixture(scope="module")
def crop_run(sample_root, tmp_path_factory):
    """FPN on the sample's 128x256 images at scale [256, 512] (ratio 0.5-2.0), 128x256 crops."""
    out = tmp_path_factory.mktemp("crop_run")
    extra = ["dataset.size=[256,512]", "dataset.crop_size=[128,256]", "dataset.cat_max_ratio=0.75"]
    assert train_quickstart(sample_root, out, *extra) == 0
    return out


def evaluate(run, sample_root, out, monkeypatch, *extra):
    """Runs eval.py and returns (metrics, the (H, W) of every model call)."""
    shapes, real = [], SegmentationModel.forward

    def spy(self, x):
        shapes.append(tuple(x.shape[-2:]))
        return real(self, x)

    monkeypatch.setattr(SegmentationModel, "forward", spy)
    argv = [
        "--checkpoint",
        str(run / "best.pth"),
        "--set",
        f"paths.root={sample_root / 'cityscapes'}",
        f"eval.output_dir={out}",
        "eval.num_workers=0",
        "eval.device=cpu",
        *extra,
    ]
    assert eval_script.main(argv) == 0
    monkeypatch.setattr(SegmentationModel, "forward", real)
    return json.loads((out / "metrics.json").read_text()), set(shapes)


def test_whole_and_sliding_eval_at_the_training_scale(crop_run, sample_root, tmp_path, monkeypatch, caplog):
    whole, shapes = evaluate(crop_run, sample_root, tmp_path / "whole", monkeypatch)
    assert shapes == {(256, 512)}  # the whole image at dataset.size, the scale training cropped from
    assert whole["input_size"] == [256, 512] and whole["window"] is None and 0 < whole["miou"] <= 1
    slide, shapes = evaluate(crop_run, sample_root, tmp_path / "slide", monkeypatch, "eval.inference=slide")
    assert shapes == {(128, 256)}  # training-crop windows over the same 256x512 image
    assert slide["input_size"] == [256, 512] and slide["window"] == [128, 256] and 0 < slide["miou"] <= 1
    assert "inference slide: 128x256 windows over images resized to 256x512" in caplog.text
    assert "warning" not in caplog.text  # both match the training scale


def test_mismatched_scales_are_named(crop_run, sample_root, tmp_path, monkeypatch, caplog):
    _, shapes = evaluate(
        crop_run, sample_root, tmp_path / "big", monkeypatch, "dataset.size=[128,256]", "eval.inference=slide"
    )
    assert shapes == {(128, 256)}
    out = caplog.text
    assert (
        "trained on images resized to [256, 512]: objects appear at 0.50x" in out
        and "covers the whole [128, 256] image" in out
    )


def test_scale_warnings():
    cfg = config_from_dict({}, ["dataset.size=[1024,2048]", "dataset.crop_size=[512,1024]", "eval.inference=slide"])
    assert scale_warnings(cfg, [1024, 2048]) == []
    assert "2.00x" in scale_warnings(cfg, [512, 1024])[0]
    no_crop = config_from_dict({}, ["dataset.size=[512,1024]", "eval.inference=slide"])
    assert "whole-image inference" in scale_warnings(no_crop, [512, 1024])[0]
    assert scale_warnings(config_from_dict({}, ["dataset.size=[512,1024]"]), [512, 1024]) == []


def test_the_sliding_window_is_the_training_crop():
    crop = config_from_dict({}, ["dataset.size=[256,512]", "dataset.crop_size=[128,256]", "eval.inference=slide"])
    whole = config_from_dict({}, ["dataset.size=[256,512]", "eval.inference=slide"])
    for cfg, expected in ((crop, [128, 256]), (whole, [256, 512])):
        assert training_crop(cfg.dataset) == expected == _windows(cfg)["window"]
        crops = [t for t in train_transform(cfg.dataset, cfg.dataset.size) if isinstance(t, CatMaxRatioCrop)]
        assert [[t.height, t.width] for t in crops] == [expected]
    assert training_crop(whole.dataset, [64, 96]) == [64, 96]  # a stage's own size, when crop_size is null


def test_sliding_windows_cover_the_image_and_average_overlaps():
    calls = []

    class Flat(torch.nn.Module):
        def forward(self, x):
            calls.append(tuple(x.shape[-2:]))
            return torch.ones(x.shape[0], 2, *x.shape[-2:])

    predictor = ModelRunner(Flat(), "ce_dice", 2, torch.device("cpu"), mode="slide", window=(128, 256), overlap=0.5)
    probs = predictor(torch.zeros(1, 3, 256, 512))
    assert probs.shape == (1, 2, 256, 512) and set(calls) == {(128, 256)}
    assert torch.allclose(probs, torch.full_like(probs, 0.5))  # equal logits everywhere: every pixel was covered


def test_eval_needs_no_imagenet_download(crop_run, sample_root, tmp_path, monkeypatch):
    """The checkpoint holds every weight: a run trained from ImageNet weights evaluates offline."""
    ckpt = torch.load(crop_run / "best.pth", weights_only=True)
    ckpt["config"]["model"]["encoder_weights"] = "imagenet"
    path = tmp_path / "imagenet.pth"
    torch.save(ckpt, path)
    real = torchvision.models.get_model

    def offline(*args, **kwargs):
        if kwargs.get("weights") is not None:
            raise urllib.error.URLError("no network")
        return real(*args, **kwargs)

    monkeypatch.setattr(torchvision.models, "get_model", offline)
    argv = [
        "--checkpoint",
        str(path),
        "--set",
        f"paths.root={sample_root / 'cityscapes'}",
        f"eval.output_dir={tmp_path / 'eval'}",
        "eval.num_workers=0",
        "eval.device=cpu",
    ]
    assert eval_script.main(argv) == 0
