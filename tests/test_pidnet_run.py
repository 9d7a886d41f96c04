"""PIDNet-S through the whole toolkit on the built-in sample at 64x128: the recipe's config trains with the boundary
terms, resumes exactly, evaluates with flip TTA, exports to ONNX (checked against PyTorch) and is counted."""

import json

import pytest
from conftest import TINY, assert_onnxruntime_eval_and_predictor_agree, assert_same_training, tiny_overrides

import eval as eval_script
import export as export_script
import model_summary
import train
from models import pidnet_loss
from utils.checkpoint import load_checkpoint

CONFIG = "configs/cityscapes_classes19_pidnet_s.yaml"
# Two optimizer steps, one per epoch, so that a crash after the first epoch leaves a last.pth to resume from. From
# random weights the recipe's lr 0.01 takes a first step so large that BN's running statistics, two steps old, blow
# the eval-mode logits up to 1e14: softmax saturates and the ONNX check would compare ones with ones. lr 1e-4 keeps
# them near their initial size.
EXTRA = [*TINY, "training.epochs=2", "training.iters_per_epoch=1", "training.deterministic=true", "training.lr=0.0001"]


def run_train(sample_root, out, resume=False) -> int:
    argv = ["--config_path", CONFIG, "--set", *tiny_overrides(sample_root, out, *EXTRA)]
    return train.main(argv + (["--resume"] if resume else []))


@pytest.fixture(scope="module")
def straight(sample_root, tmp_path_factory):
    """A two-step run; records what the loss saw."""
    seen = {"outputs": [], "edges": []}
    real_forward, real_bce = pidnet_loss.PIDNetLoss.forward, pidnet_loss.balanced_bce

    def forward(self, outputs, target):
        seen["outputs"].append(sorted(outputs) if isinstance(outputs, dict) else "logits")
        return real_forward(self, outputs, target)

    def bce(logits, edges):
        seen["edges"].append((tuple(logits.shape), float(edges.sum())))
        return real_bce(logits, edges)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pidnet_loss.PIDNetLoss, "forward", forward)
        patch.setattr(pidnet_loss, "balanced_bce", bce)
        out = tmp_path_factory.mktemp("pidnet_run")
        assert run_train(sample_root, out) == 0
    return out, seen


def test_trains_with_the_auxiliary_and_boundary_terms(straight):
    out, seen = straight
    # Two training steps take the dict of P, I and D; validation after each epoch the logits alone.
    assert [o for o in seen["outputs"] if o != "logits"] == [["d", "out", "p"]] * 2
    assert seen["outputs"][0] != "logits" and seen["outputs"][-1] == "logits"
    assert [shape for shape, _ in seen["edges"]] == [(2, 1, 64, 128)] * 2 and all(n > 0 for _, n in seen["edges"])
    log = (out / "train.log").read_text()
    assert "model pidnet" in log and "7,720,935 parameters" in log and "OHEM (thresh 0.9, min_kept 131072" in log


def test_resumes_exactly(straight, sample_root, tmp_path, monkeypatch):
    real = train.Trainer.train_one_epoch
    calls = {"n": 0}

    def crash_in_second_epoch(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if killed: last.pth holds epoch 1
        return real(self, *args)

    monkeypatch.setattr(train.Trainer, "train_one_epoch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_train(sample_root, tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed" / "last.pth")["epoch"] == 1
    monkeypatch.setattr(train.Trainer, "train_one_epoch", real)
    assert run_train(sample_root, tmp_path / "resumed", resume=True) == 0
    assert_same_training(straight[0], tmp_path / "resumed", steps=2)


def test_evaluates_with_flip_tta(straight, sample_root, tmp_path):
    argv = ["--config_path", CONFIG, "--checkpoint", str(straight[0] / "best.pth"), "--set"]
    argv += [f"paths.root={sample_root / 'cityscapes'}", f"eval.output_dir={tmp_path}", "eval.num_workers=0"]
    assert eval_script.main(argv + ["eval.device=cpu", "eval.max_images=1", "eval.tta=hflip"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 <= metrics["miou"] <= 1 and len(metrics["per_class"]) == 19


def test_exports_to_onnx_and_is_counted(straight, sample_root, tmp_path, capsys):
    out = straight[0]
    root = f"paths.root={sample_root / 'cityscapes'}"
    assert export_script.main(["--checkpoint", str(out / "best.pth"), "--set", root, "--check_images", "2"]) == 0
    check = json.loads((out / "model.json").read_text())["check"]
    assert check["passed"] and [r["input"] for r in check["rows"]] == ["2 x 64x128", "1 x 77x157 (odd size)"]
    assert all(0 < r["max_abs_diff"] <= 1e-4 and r["agreement"] >= 0.999 for r in check["rows"])  # not saturated
    assert_onnxruntime_eval_and_predictor_agree(out, sample_root, tmp_path)

    capsys.readouterr()
    assert model_summary.main(["--config_path", str(out / "config.yaml"), "--depth", "1"]) == 0
    printed = capsys.readouterr().out
    assert (
        "Total params: 7,720,935" in printed
        and "pidnet-s (its own backbone)" in printed
        and "FLOPs per image" in printed
    )
