"""DeepLabV3+, UPerNet and SegFormer through every script: train, --resume, eval (flip TTA, sliding windows),
ONNX export checked against PyTorch, eval on onnxruntime, Predictor, LiDAR painting and model_summary.py's counting;
tiny models on the built-in sample. (DDP with an auxiliary head: tests/training/test_distributed.py.)"""

import json
from dataclasses import replace

import pytest
from conftest import assert_onnxruntime_eval_and_predictor_agree, tiny_overrides

import eval as eval_script
import export as export_script
import model_summary
import paint_points
import train
from models.registry import build_model_from_config, count_parameters
from utils.checkpoint import load_checkpoint
from utils.config.errors import EXIT_USER_ERROR
from utils.config.loading import load_config

# (arch, encoder, its auxiliary-head switch or None): the aux heads are on, as in the recipes.
ARCHS = [
    ("deeplabv3plus", "resnet18", "model.deeplabv3plus_aux_weight=0.4"),
    ("upernet", "resnet18", "model.upernet_aux_weight=0.4"),
    ("segformer", "tu-pvt_v2_b0", None),
]


def train_argv(sample_root, out, arch, encoder, *extra) -> list:
    # 64x64 crops of the 64x128 images: eval.inference=slide then has two windows to stitch.
    extra = [f"model.arch={arch}", f"model.encoder={encoder}", "dataset.crop_size=[64,64]", *extra]
    return ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *extra)]


def run_eval(run, sample_root, out, *extra) -> dict:
    argv = ["--checkpoint", str(run / "best.pth"), "--set", f"paths.root={sample_root / 'cityscapes'}"]
    assert eval_script.main(argv + [f"eval.output_dir={out}", "eval.device=cpu", "eval.max_images=1", *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("arch,encoder,aux", ARCHS, ids=[a[0] for a in ARCHS])
def test_train_eval_export_and_count(sample_root, tmp_path, capsys, arch, encoder, aux):
    run = tmp_path / "run"
    assert train.main(train_argv(sample_root, run, arch, encoder, *([aux] if aux else []))) == 0
    state = load_checkpoint(run / "last.pth")["model"]
    assert any(k.startswith("aux_heads.aux.") for k in state) == bool(aux)

    # One eval run takes both paths: flip TTA inside each 64x64 window of the 64x128 image.
    metrics = run_eval(run, sample_root, tmp_path / "eval", "eval.tta=hflip", "eval.inference=slide")
    assert metrics["tta"] == "hflip" and metrics["window"] == [64, 64] and 0 <= metrics["miou"] <= 1

    # export.py compares onnxruntime with PyTorch (one val image and one odd size) and exits 2 when they disagree.
    argv = ["--checkpoint", str(run / "best.pth"), "--check_images", "1"]
    assert export_script.main([*argv, "--set", f"paths.root={sample_root / 'cityscapes'}"]) == 0
    assert (run / "model.onnx").is_file()
    assert_onnxruntime_eval_and_predictor_agree(run, sample_root, tmp_path)

    # paint_points.py paints the sample's KITTI scans with the model's classes (8 Cityscapes categories).
    painted = tmp_path / "paint"
    paint_argv = ["--checkpoint", str(run / "best.pth"), "--set", "target=kitti", f"paths.root={sample_root / 'kitti'}"]
    paint_argv += [f"paint.output_dir={painted}", "paint.split=testing", "paint.max_pictures=0", "eval.device=cpu"]
    assert paint_points.main(paint_argv) == 0
    assert json.loads((painted / "paint_metrics.json").read_text())["frames"] == 3

    capsys.readouterr()
    assert model_summary.main(["--config_path", str(run / "config.yaml"), "--depth", "1"]) == 0
    cfg = load_config(run / "config.yaml")
    expected = count_parameters(build_model_from_config(replace(cfg.model, encoder_weights=None), 8))
    assert f"parameters: {expected:,} total" in capsys.readouterr().out


def test_resume_keeps_the_aux_head_and_refuses_another_network(sample_root, tmp_path, capsys):
    run, aux = tmp_path / "run", "model.deeplabv3plus_aux_weight=0.4"
    once = ("training.iters_per_epoch=1",)
    assert train.main(train_argv(sample_root, run, "deeplabv3plus", "resnet18", aux, *once)) == 0
    first = load_checkpoint(run / "last.pth")["model"]["aux_heads.aux.classifier.weight"]
    assert (
        train.main(
            train_argv(sample_root, run, "deeplabv3plus", "resnet18", aux, *once, "training.epochs=2") + ["--resume"]
        )
        == 0
    )
    ckpt = load_checkpoint(run / "last.pth")
    assert ckpt["global_step"] == 2 and not ckpt["model"]["aux_heads.aux.classifier.weight"].equal(first)

    other = train_argv(sample_root, run, "deeplabv3plus", "resnet18", aux, "model.deeplabv3plus_output_stride=8")
    assert train.run_main(train.main, [*other, "training.epochs=3", "--resume"]) == EXIT_USER_ERROR
    assert "model.deeplabv3plus_output_stride" in capsys.readouterr().err
