"""Everything eval.py rebuilds from a checkpoint: the merged config, labels, model and predictor."""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch

from models.registry import build_model_from_config, describe
from utils.checkpoint import Checkpoint
from utils.config.errors import UserError
from utils.data.families import DatasetFamily, dataset_family
from utils.data.families.base import MissingDescription
from utils.data.sources import in_cityscapes19
from utils.data.taxonomy import ClassMapping, relate
from utils.data.transforms import training_crop
from utils.deployment.runtime import OnnxModel
from utils.deployment.sidecar import resolve_onnx_path
from utils.evaluation.eval_config import merged_config, scale_warnings, trained_size
from utils.evaluation.inference import ModelRunner
from utils.evaluation.mapped_runner import MappedRunner
from utils.evaluation.predict import PredictionStep
from utils.evaluation.tta import tta_views
from utils.files import ensure_writable_folder
from utils.labels import LabelSet
from utils.runtime import amp_dtype, memory_format, resolve_device


@dataclass
class EvalSetup:
    cfg: object
    labels: LabelSet
    predictor: ModelRunner  # the model call: images -> probabilities
    views: list
    checkpoint: Path
    output_dir: Path
    device: torch.device
    drop_fill: object  # eval.drop_clusters_fill resolved: "majority", "ignore" or a class index
    family: DatasetFamily  # the dataset family: its files, label encoding and results
    step: PredictionStep  # TTA, upsampling, argmax and DropClusters: what eval, videos and painting predict with
    pictures: list = field(default_factory=list)  # the overlay pictures the last run_evaluation wrote (for the report)
    mapping: Optional[ClassMapping] = None  # how the checkpoint's classes relate to the dataset's (labels: the scored)
    checkpoint_names: tuple = ()  # the checkpoint's own classes


def eval_labels(family: DatasetFamily, ckpt: Checkpoint, log) -> LabelSet:
    """The family's classes; the checkpoint's own copy where the dataset that describes them is not at hand
    (Vistas' config or a folder dataset's classes.yaml on a machine with only the checkpoint) and it is the
    checkpoint's own family."""
    try:
        return family.labels()
    except MissingDescription as exc:  # a broken classes.yaml or config still stops: only an absent one falls back
        if ckpt.labels is None or (ckpt.config or {}).get("target") != family.name:
            raise
        log.info(f"note: the classes come from the checkpoint ({str(exc).split(';')[0].rstrip('.')})")
        return ckpt.labels


def load_eval_model(cfg, ckpt: Checkpoint, path, labels: LabelSet) -> torch.nn.Module:
    """The checkpoint's model on the CPU in eval mode; a class list or architecture that does not fit is a UserError."""
    if ckpt.labels is not None and list(labels.names) != ckpt.class_names:
        raise UserError(
            f"Checkpoint '{path}' was trained on classes {ckpt.class_names}, but its config now gives "
            f"{list(labels.names)}."
        )
    # The checkpoint holds every weight: no ImageNet download (timm's hub, torchvision's URLs) on an offline eval machine.
    model = build_model_from_config(replace(cfg.model, encoder_weights=None), labels.num_classes)
    try:
        model.load_state_dict(ckpt.model)
    except RuntimeError as exc:
        raise UserError(
            f"Checkpoint '{path}' does not fit model {cfg.model.arch}/{cfg.model.encoder}: the model keys come from "
            f"the checkpoint, do not override them ({str(exc).splitlines()[0]})."
        ) from None
    return model.eval()


def _windows(cfg) -> dict:
    return {
        "mode": cfg.eval.inference,
        "window": training_crop(cfg.dataset),
        "overlap": cfg.eval.slide_overlap,
    }


def _pytorch_predictor(cfg, ckpt, path, labels, device) -> ModelRunner:
    model = load_eval_model(cfg, ckpt, path, labels)
    mem_format = memory_format(device, cfg.training.channels_last)
    model = model.to(device, memory_format=mem_format)
    amp = amp_dtype(device, "bf16" if cfg.eval.amp else "none")
    return ModelRunner(
        model, cfg.training.loss, labels.num_classes, device, amp_dtype=amp, mem_format=mem_format, **_windows(cfg)
    )


def _onnxruntime_predictor(cfg, path, labels, device, log) -> ModelRunner:
    """eval.onnx through onnxruntime; its sidecar must name the checkpoint's classes and loss."""
    onnx_path = resolve_onnx_path(cfg.eval.onnx, path)
    model = OnnxModel(onnx_path, labels.num_classes, device.type)
    exported = model.sidecar
    if exported["classes"] != list(labels.names) or exported.get("loss") != cfg.training.loss:
        raise UserError(
            f"eval.onnx '{onnx_path}' was exported for classes {exported['classes']} (loss {exported.get('loss')}), "
            f"but checkpoint '{path}' has {list(labels.names)} "
            f"(loss {cfg.training.loss}). Export this checkpoint (python export.py --checkpoint {path}) or pass its "
            "own --checkpoint."
        )
    if exported.get("checkpoint") and Path(exported["checkpoint"]).resolve() != Path(path).resolve():
        log.warning(
            f"note: {onnx_path} was exported from {exported['checkpoint']}, not from {path}; the config comes from "
            "the latter."
        )
    if not (exported.get("check") or {}).get("passed", True):
        log.warning(f"note: {onnx_path} failed its check at export (see its model.json).")
    if cfg.eval.inference == "slide" and exported["output"]["kind"] == "probabilities":
        log.warning(
            f"note: {onnx_path} outputs probabilities; sliding windows average logits, and logits recovered from "
            "saturated probabilities "
            "are capped, so confident overlapping windows can differ from PyTorch. Export with --output logits for "
            "slide inference."
        )
    providers = ", ".join(p.replace("ExecutionProvider", "") for p in model.providers)
    log.info(
        f"backend onnxruntime: {onnx_path} ({exported['output']['kind']}, "
        f"{'fp16' if exported.get('fp16') else 'fp32'}, opset {exported.get('opset')}), providers {providers}"
    )
    return ModelRunner(model, cfg.training.loss, labels.num_classes, device, outputs=model.outputs, **_windows(cfg))


def build_eval_setup(
    config_path, cli_checkpoint, overrides, log, paint_frames: bool = False, make_output: bool = True
) -> EvalSetup:
    """The checkpoint's model and everything eval needs around it; ``make_output`` creates eval.output_dir (the
    Python API's Predictor writes nothing)."""
    cfg, ckpt, path = merged_config(config_path, cli_checkpoint, overrides, paint_frames)
    family = dataset_family(cfg)
    dataset_labels = eval_labels(family, ckpt, log)
    model_labels = ckpt.labels if ckpt.labels is not None else dataset_labels
    mapping = class_mapping(cfg, ckpt, path, family, model_labels, dataset_labels)
    labels = mapping.labels  # the classes scored, drawn and written from here on
    device = resolve_device(cfg.eval.device)
    if cfg.eval.backend == "onnxruntime":
        predictor = _onnxruntime_predictor(cfg, path, model_labels, device, log)
    else:
        if cfg.eval.onnx:
            log.info(
                f"note: eval.onnx is set but eval.backend is pytorch: evaluating {path}; add eval.backend=onnxruntime "
                "to evaluate the graph"
            )
        predictor = _pytorch_predictor(cfg, ckpt, path, model_labels, device)
    if mapping.prediction_table is not None:
        predictor = MappedRunner(predictor, mapping.prediction_table, labels.num_classes)
    views = tta_views(cfg.eval.tta, cfg.eval.tta_scales, cfg.eval.tta_flip)
    out = Path(cfg.eval.output_dir) if cfg.eval.output_dir else Path(cfg.paths.output_dir) / "eval"
    if make_output:
        ensure_writable_folder(out, "the eval output folder (eval.output_dir)")
    fill = cfg.eval.drop_clusters_fill
    if fill not in ("majority", "ignore"):
        if fill not in labels.names:
            raise UserError(
                f"eval.drop_clusters_fill is '{fill}'; allowed: majority | ignore | a class name "
                f"({', '.join(labels.names)})."
            )
        fill = labels.names.index(fill)
    stage, epoch = (ckpt.progress.stage, ckpt.progress.epoch) if ckpt.progress else (0, None)
    log.info(
        f"checkpoint {path} (stage {stage + 1}, epoch {epoch}), "
        f"{describe(cfg.model)}, classes: {', '.join(labels.names)}"
    )
    if mapping.kind != "same":
        log.info(f"class mapping: {mapping.description}")
    for note in scale_warnings(cfg, trained_size(ckpt)):
        log.warning(f"warning: {note}")
    window = training_crop(cfg.dataset)
    how = (
        f"{window[0]}x{window[1]} windows over images resized to"
        if cfg.eval.inference == "slide"
        else "whole images resized to"
    )
    log.info(
        f"inference {cfg.eval.inference}: {how} {cfg.dataset.size[0]}x{cfg.dataset.size[1]}, TTA {cfg.eval.tta} "
        f"({len(views)} views, merge {cfg.eval.merge}), DropClusters {cfg.eval.drop_clusters or 'off'}, device "
        f"{device}"
    )
    step = PredictionStep(
        predictor, views, labels.num_classes, cfg.eval.merge, cfg.eval.tsharpen_t, cfg.eval.drop_clusters, fill
    )
    return EvalSetup(
        cfg, labels, predictor, views, path, out, device, fill, family, step, [], mapping, tuple(model_labels.names)
    )


def class_mapping(cfg, ckpt: Checkpoint, path, family, model_labels: LabelSet, dataset_labels: LabelSet):
    """How the checkpoint's classes relate to the dataset's (utils/data/taxonomy.py); none is a UserError naming both."""
    trained = ckpt.config or {}
    mode = (trained.get("dataset") or {}).get("labels")
    # A dataset.sources run in a taxonomy file of its own: its classes' lut is the table from the 19 train ids.
    own_taxonomy = not in_cityscapes19(trained.get("dataset") or {})
    mapping = relate(
        model_labels,
        family,
        dataset_labels,
        f"checkpoint '{path}' (target {trained.get('target')}, dataset.labels {mode})",
        f"target {family.name} (dataset.labels {family.mode}, paths.root {cfg.paths.root})",
        model_labels.lut if own_taxonomy else None,
    )
    if mapping.kind == "ground_truth" and cfg.eval.pseudo_label_threshold is not None:
        raise UserError(
            f"eval.pseudo_label_threshold writes labels in {family.name}'s own values, but the checkpoint's classes map "
            f"onto them only the other way ({mapping.description.split(':')[0]}). Write pseudo-labels with a checkpoint "
            f"of {family.name}'s classes, or leave eval.pseudo_label_threshold out."
        )
    return mapping
