"""``model.json`` beside ``model.onnx``: what a consumer of the graph needs to feed it and read its output."""

import json
from pathlib import Path

from utils.config.errors import UserError
from utils.data.families import dataset_family
from utils.data.normalization import IMAGENET_MEAN, IMAGENET_STD
from utils.files import atomic_write_text, to_json
from utils.losses import loss_activation

FORMAT_VERSION = 1


def sidecar_path(onnx_path) -> Path:
    """``model.onnx`` -> ``model.json``."""
    return Path(onnx_path).with_suffix(".json")


def build_sidecar(cfg, labels, checkpoint, output: str, fp16: bool, opset: int, versions: dict) -> dict:
    """The sidecar's content for a graph exported from ``checkpoint`` with ``cfg``'s labels and loss.

    ``input.size`` is the [H, W] the model was trained at; any size runs, but that one predicts best.
    """
    output_shape = (
        ["batch", "height", "width"] if output == "labels" else ["batch", labels.num_classes, "height", "width"]
    )
    return {
        "format_version": FORMAT_VERSION,
        "classes": list(labels.names),
        "palette": [list(c) for c in labels.colors],
        "label_mode": {
            "target": cfg.target,
            # a dataset.sources run: its taxonomy (the sources are in the checkpoint's config)
            "labels": f"taxonomy {cfg.dataset.taxonomy}" if cfg.dataset.sources else dataset_family(cfg).mode,
            "unlabeled_class": cfg.dataset.unlabeled_class,
            "void_classes": list(labels.void_classes),
        },
        "to_label_id": list(labels.to_label_id) if labels.to_label_id is not None else None,
        "input": {
            "name": "image",
            "shape": ["batch", 3, "height", "width"],
            "dtype": "float32",
            "size": list(cfg.dataset.size),
            "preprocessing": "RGB, divided by 255, then (x - mean) / std per channel",
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
        },
        "output": {
            "name": output,
            "kind": output,
            "shape": output_shape,
            "dtype": "int64" if output == "labels" else "float32",
            "activation": loss_activation(cfg.training.loss) if output == "probabilities" else None,
        },
        "loss": cfg.training.loss,
        "model": {"arch": cfg.model.arch, "encoder": cfg.model.encoder},
        "fp16": fp16,
        "opset": opset,
        "checkpoint": str(checkpoint),
        "versions": versions,
    }


def write_sidecar(onnx_path, content: dict) -> Path:
    path = sidecar_path(onnx_path)
    atomic_write_text(path, to_json(content))
    return path


def read_sidecar(onnx_path) -> dict:
    """The sidecar of ``onnx_path``; a missing, unreadable or newer-format one is a UserError saying what to do."""
    path = sidecar_path(onnx_path)
    if not path.is_file():
        raise UserError(
            f"'{path}' does not exist: it describes '{onnx_path}' (classes, output kind). Export again with python "
            "export.py, which writes both."
        )
    try:
        content = json.loads(path.read_text())
    except ValueError as exc:
        content = {"error": str(exc)}
    if (
        not isinstance(content, dict)
        or not isinstance(content.get("classes"), list)
        or (content.get("output") or {}).get("kind") not in ("logits", "probabilities", "labels")
        or not isinstance(content.get("format_version", FORMAT_VERSION), int)
    ):
        raise UserError(
            f"'{path}' is not a sidecar written by export.py (no classes or output kind). Export again with python "
            "export.py."
        )
    version = content.get("format_version", FORMAT_VERSION)
    if version > FORMAT_VERSION:
        raise UserError(
            f"'{path}' has format_version {version}, written by a newer version of this toolkit; this one reads up to "
            f"{FORMAT_VERSION}. Update the toolkit, or export again with this one (python export.py)."
        )
    return content


def resolve_onnx_path(eval_onnx, checkpoint) -> Path:
    """``eval.onnx`` when set, else ``model.onnx`` beside the checkpoint (where export.py writes by default)."""
    return Path(eval_onnx) if eval_onnx else Path(checkpoint).parent / "model.onnx"
