"""export.py's work: a checkpoint becomes ``model.onnx`` and ``model.json``, checked against PyTorch."""

import copy
import importlib.metadata
import time

from models.registry import describe
from utils.data.families import dataset_family
from utils.deployment.check import CheckFailed, check_inputs, format_check, run_check
from utils.deployment.export import DeployModule, export_onnx
from utils.deployment.sidecar import build_sidecar, resolve_onnx_path, write_sidecar
from utils.evaluation.setup import eval_labels, load_eval_model, merged_config


def _versions() -> dict:
    return {name: importlib.metadata.version(name) for name in ("torch", "onnx", "onnxruntime", "onnxscript")}


def export_checkpoint(
    config_path,
    checkpoint,
    overrides,
    log,
    onnx_path=None,
    output: str = "probabilities",
    opset: int = 20,
    fp16: bool = False,
    check_images: int = 4,
) -> dict:
    """Exports, checks and describes one checkpoint; returns the sidecar's content (with the check's results).

    The model, labels and loss come from the checkpoint, as in eval.py; ``overrides`` can move the data
    the check reads (``paths.root``, ``eval.split``) or its input size (``dataset.size``).
    Raises CheckFailed after writing both files (the sidecar records the failure) when onnxruntime
    and PyTorch disagree beyond the goals.
    """
    cfg, ckpt, path = merged_config(config_path, checkpoint, overrides)
    # The checkpoint's own classes where it has them (a dataset.sources run's taxonomy is no family's label mode).
    labels = ckpt.labels if ckpt.labels is not None else eval_labels(dataset_family(cfg), ckpt, log)
    model = load_eval_model(cfg, ckpt, path, labels)
    target = resolve_onnx_path(onnx_path or cfg.eval.onnx, path)
    log.info(f"checkpoint {path}: {describe(cfg.model)}, {labels.num_classes} classes, loss {cfg.training.loss}")
    start = time.perf_counter()
    module = DeployModule(copy.deepcopy(model), cfg.training.loss, output, fp16)
    export_onnx(module, target, opset)
    log.info(
        f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB, opset {opset}, {'fp16' if fp16 else 'fp32'}, "
        f"output {output}) in {time.perf_counter() - start:.0f} s; onnx.checker passed"
    )
    sidecar = build_sidecar(cfg, labels, path, output, fp16, opset, _versions())
    sidecar["check"] = {"passed": False, "note": "not run yet"}  # what stays if the check itself crashes
    write_sidecar(target, sidecar)
    inputs, source = check_inputs(cfg, labels, check_images)
    log.info(f"check: onnxruntime (CPU) against PyTorch (fp32) on {source}, and one odd size")
    reference = DeployModule(model, cfg.training.loss, "probabilities")
    result = run_check(reference, target, inputs, cfg.training.loss, labels.num_classes, fp16)
    log.info(format_check(result))
    sidecar["check"] = {"inputs": source, **result}
    log.info(f"wrote {write_sidecar(target, sidecar)}")
    if not result["passed"]:
        goals, diff = result["goals"], result["max_abs_diff"]
        raise CheckFailed(
            f"onnxruntime and PyTorch disagree on '{target}': max abs difference "
            f"{'n/a' if diff is None else f'{diff:.2e}'}, argmax agreement {100 * result['agreement']:.3f} % "
            f"(goals {goals['max_abs_diff']:.0e} and {100 * goals['agreement']:g} %). The file is kept for "
            "inspection, and its model.json says check.passed: false; do not deploy it."
        )
    return sidecar
