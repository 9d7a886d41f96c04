"""export.py and eval.backend=onnxruntime on one tiny trained model: the graph, its sidecar, its check, a check that
must fail, and evaluation through onnxruntime against PyTorch."""

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from conftest import checkpoint_with_class_names, copy_run
from onnx import numpy_helper

import eval as eval_script
import export as export_script
from utils.config.errors import EXIT_USER_ERROR
from utils.data.families import build_labels
from utils.deployment import run as export_run
from utils.deployment.runtime import create_session
from utils.evaluation.setup import build_eval_setup, load_eval_model, merged_config
from utils.losses import probabilities
from utils.runtime import get_logger


@pytest.fixture(scope="module")
def tiny_run(tiny_run, tmp_path_factory):
    """FPN-resnet18 on the sample's 8 categories at 64x128 (bce_dice), trained for a few steps: a copy of the
    session's tiny run, as the export writes model.onnx beside its best.pth."""
    return copy_run(tiny_run, tmp_path_factory.mktemp("onnx_run") / "run")


@pytest.fixture(scope="module")
def exported(tiny_run, sample_root):
    """The default export (fp32 probabilities, opset 20) beside best.pth."""
    assert (
        export_script.main(
            ["--checkpoint", str(tiny_run / "best.pth"), "--set", f"paths.root={sample_root / 'cityscapes'}"]
        )
        == 0
    )
    return tiny_run / "model.onnx"


def torch_model(run):
    cfg, ckpt, path = merged_config(None, run / "best.pth", [])
    model = load_eval_model(cfg, ckpt, path, build_labels(cfg.target, cfg.dataset.labels))
    return model, checkpoint_with_class_names(path)


def axes(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_export_writes_a_checked_dynamic_graph_and_its_sidecar(exported, tiny_run):
    graph = onnx.load(str(exported))
    onnx.checker.check_model(graph, full_check=True)
    assert axes(graph.graph.input[0]) == ["batch", 3, "height", "width"]
    assert axes(graph.graph.output[0]) == ["batch", 8, "height", "width"]
    assert next(o.version for o in graph.opset_import if o.domain == "") == 20
    sidecar = json.loads((tiny_run / "model.json").read_text())
    model, ckpt = torch_model(tiny_run)
    assert sidecar["classes"] == ckpt["class_names"] and sidecar["palette"] == [list(c) for c in ckpt["palette"]]
    assert (
        sidecar["input"]["size"] == [64, 128]
        and sidecar["input"]["mean"] == pytest.approx([0.485, 0.456, 0.406])
        and sidecar["input"]["std"] == pytest.approx([0.229, 0.224, 0.225])
    )
    assert sidecar["loss"] == "bce_dice" and sidecar["output"] == {
        "name": "probabilities",
        "kind": "probabilities",
        "shape": ["batch", 8, "height", "width"],
        "dtype": "float32",
        "activation": "sigmoid",
    }
    assert sidecar["label_mode"]["labels"] == "categories" and sidecar["fp16"] is False
    check = sidecar["check"]
    assert (
        check["passed"]
        and check["inputs"].startswith("4 val images")
        and [r["input"] for r in check["rows"]] == ["4 x 64x128", "1 x 77x157 (odd size)"]
    )
    assert all(r["max_abs_diff"] <= 1e-4 and r["agreement"] >= 0.999 for r in check["rows"])

    # Beyond the check: the KITTI size (not a multiple of 32) at batch 3 through the graph's own padding.
    images = torch.randn(3, 3, 375, 1242, generator=torch.Generator().manual_seed(1))
    out = create_session(exported).run(None, {"image": images.numpy()})[0]
    with torch.inference_mode():
        expected = probabilities(model(images), "bce_dice").numpy()
    assert out.shape == (3, 8, 375, 1242)
    assert np.abs(out - expected).max() < 1e-4
    assert (out.argmax(1) == expected.argmax(1)).mean() > 0.999


def run_eval(run, sample_root, out, *extra) -> dict:
    argv = [
        "--config_path",
        "configs/quickstart.yaml",
        "--checkpoint",
        str(run / "best.pth"),
        "--set",
        f"paths.root={sample_root / 'cityscapes'}",
        f"paths.output_dir={run}",
    ]
    assert (
        eval_script.main(
            [
                *argv,
                f"eval.output_dir={out}",
                "eval.num_workers=0",
                "eval.device=cpu",
                "eval.max_images=2",
                "eval.tta=hflip",
                "eval.drop_clusters=30",
                *extra,
            ]
        )
        == 0
    )
    return json.loads((out / "metrics.json").read_text())


def test_class_indices_in_fp16_at_opset_18_without_data(tiny_run, sample_root, tmp_path):
    path = tmp_path / "labels.onnx"
    argv = [
        "--checkpoint",
        str(tiny_run / "best.pth"),
        "--onnx",
        str(path),
        "--output",
        "labels",
        "--fp16",
        "--opset",
        "18",
        "--set",
        f"paths.root={tmp_path / 'no_data'}",
    ]
    assert export_script.main(argv) == 0
    graph = onnx.load(str(path))
    assert next(o.version for o in graph.opset_import if o.domain == "") == 18
    assert axes(graph.graph.output[0]) == ["batch", "height", "width"]
    weights = [
        numpy_helper.to_array(t)
        for t in graph.graph.initializer
        if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16) and numpy_helper.to_array(t).size > 1000
    ]
    assert weights and all(w.dtype == np.float16 for w in weights)
    images = torch.randn(2, 3, 75, 130, generator=torch.Generator().manual_seed(2))
    labels = create_session(path).run(None, {"image": images.numpy()})[0]
    model, _ = torch_model(tiny_run)
    with torch.inference_mode():
        expected = model(images).argmax(1).numpy()
    assert labels.dtype == np.int64 and labels.shape == (2, 75, 130)
    assert (labels == expected).mean() > 0.99
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["fp16"] and sidecar["opset"] == 18 and sidecar["output"]["dtype"] == "int64"
    assert (
        sidecar["check"]["passed"]
        and sidecar["check"]["inputs"].startswith("random images (no val images")
        and sidecar["check"]["max_abs_diff"] is None
    )
    # Evaluated as one-hot votes, the class-index graph scores what PyTorch scores, to fp16's precision.
    pytorch = run_eval(tiny_run, sample_root, tmp_path / "pytorch")
    indices = run_eval(tiny_run, sample_root, tmp_path / "labels", "eval.backend=onnxruntime", f"eval.onnx={path}")
    assert indices["miou"] == pytest.approx(pytorch["miou"], abs=1e-2)


def broken_copy(source, target):
    """A copy of ``source`` whose final convolution's weights are scaled: a graph that predicts otherwise."""
    graph = onnx.load(str(source))
    head = [t for t in graph.graph.initializer if t.name.startswith("model.head.0.weight")]
    assert head, [t.name for t in graph.graph.initializer][-5:]
    head[0].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(head[0]) * 3.0, head[0].name))
    onnx.save(graph, str(target))


def test_a_graph_that_disagrees_with_pytorch_fails_the_export(
    exported, tiny_run, sample_root, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(export_run, "export_onnx", lambda module, path, opset: broken_copy(exported, path))
    path = tmp_path / "broken.onnx"
    argv = [
        "--checkpoint",
        str(tiny_run / "best.pth"),
        "--onnx",
        str(path),
        "--set",
        f"paths.root={sample_root / 'cityscapes'}",
    ]
    assert export_script.run_main(export_script.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "onnxruntime and PyTorch disagree" in err and "do not deploy it" in err
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["check"]["passed"] is False and sidecar["check"]["max_abs_diff"] > 1e-4


def test_bad_export_arguments_are_clear_errors(tiny_run, tmp_path, capsys):
    argv = ["--checkpoint", str(tiny_run / "best.pth"), "--onnx", str(tmp_path / "m.onnx"), "--opset", "12"]
    assert export_script.run_main(export_script.main, argv) == EXIT_USER_ERROR
    assert "--opset 12 is out of range" in capsys.readouterr().err
    assert (
        export_script.run_main(export_script.main, ["--checkpoint", str(tmp_path / "missing.pth")]) == EXIT_USER_ERROR
    )
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_eval_on_onnxruntime_gives_the_pytorch_figures(exported, tiny_run, sample_root, tmp_path):
    pytorch = run_eval(tiny_run, sample_root, tmp_path / "pytorch")
    ort = run_eval(
        tiny_run, sample_root, tmp_path / "onnxruntime", "eval.backend=onnxruntime"
    )  # eval.onnx: model.onnx beside best.pth
    assert ort["miou"] == pytest.approx(pytorch["miou"], abs=1e-3) and ort["images"] == pytorch["images"] == 5
    assert ort["without_drop_clusters"]["miou"] == pytest.approx(pytorch["without_drop_clusters"]["miou"], abs=1e-3)
    for name, scores in pytorch["per_class"].items():
        assert ort["per_class"][name]["iou"] == pytest.approx(scores["iou"], abs=1e-3, nan_ok=True)
    assert (
        len(list((tmp_path / "onnxruntime" / "pictures").glob("*.png"))) == 4
        and (tmp_path / "onnxruntime" / "confusion_matrix.png").is_file()
    )
    # Same probabilities from both predictors, whole and in sliding 64x128 windows over 128x256 images (PyTorch
    # averages the windows' logits; the graph's probabilities must be mapped back to do the same).
    for mode, size in (("resize", 64), ("slide", 128)):
        images = torch.randn(2, 3, size, 2 * size, generator=torch.Generator().manual_seed(3))
        setups = [
            build_eval_setup(
                None,
                tiny_run / "best.pth",
                ["eval.device=cpu", f"eval.output_dir={tmp_path / b}", f"eval.backend={b}", f"eval.inference={mode}"],
                get_logger(),
            )
            for b in ("pytorch", "onnxruntime")
        ]
        assert (setups[0].predictor(images) - setups[1].predictor(images)).abs().max() < 1e-4, mode
    # The figures come from the graph: one with a damaged head scores otherwise.
    broken = tmp_path / "broken.onnx"
    broken_copy(exported, broken)
    shutil.copy(exported.with_suffix(".json"), broken.with_suffix(".json"))
    damaged = run_eval(tiny_run, sample_root, tmp_path / "broken", "eval.backend=onnxruntime", f"eval.onnx={broken}")
    assert damaged["confusion_matrix"] != pytorch["confusion_matrix"]


def test_onnxruntime_backend_errors_are_clear(exported, tiny_run, tmp_path, capsys):
    base = ["--checkpoint", str(tiny_run / "best.pth"), "--set", "eval.backend=onnxruntime", "eval.device=cpu"]
    assert eval_script.run_main(eval_script.main, [*base, f"eval.onnx={tmp_path / 'missing.onnx'}"]) == EXIT_USER_ERROR
    assert "missing.json' does not exist" in capsys.readouterr().err
    other = tmp_path / "other.onnx"
    shutil.copy(exported, other)
    sidecar = json.loads(exported.with_suffix(".json").read_text())
    other.with_suffix(".json").write_text(json.dumps({**sidecar, "classes": sidecar["classes"][::-1]}))
    assert eval_script.run_main(eval_script.main, [*base, f"eval.onnx={other}"]) == EXIT_USER_ERROR
    assert "was exported for classes" in capsys.readouterr().err
    assert eval_script.run_main(eval_script.main, [*base, "eval.backend=tensorrt"]) == EXIT_USER_ERROR
    assert "allowed: pytorch | onnxruntime" in capsys.readouterr().err


def test_a_graph_fixed_to_one_size_is_refused():
    from onnx import TensorProto, helper

    from utils.config.errors import UserError
    from utils.deployment.export import _require_dynamic_input

    fixed = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 75, 130])
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2, 75, 130])
    graph = helper.make_model(
        helper.make_graph([helper.make_node("Identity", ["image"], ["probabilities"])], "g", [fixed], [out])
    )
    with pytest.raises(UserError, match="fixed height, width"):
        _require_dynamic_input(graph)


def test_a_graph_that_outputs_nan_fails_its_check():
    from utils.deployment.check import compare

    class NanGraph:
        kind = "probabilities"

        def run(self, images):
            out = np.full((images.shape[0], 2, *images.shape[2:]), 0.5, np.float32)
            out[0, 0, 0, 1] = np.nan  # not the first element: max() would skip it
            return out

    reference = lambda x: torch.full((x.shape[0], 2, *x.shape[2:]), 0.5)  # noqa: E731
    row = compare(reference, NanGraph(), torch.zeros(1, 3, 8, 8), "bce_dice")
    assert row["max_abs_diff"] == float("inf") and row["non_finite"] == 1
