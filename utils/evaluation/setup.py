"""Everything eval.py rebuilds from a checkpoint: the merged config, labels, model and predictor."""

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from models import build_model_from_config
from utils.checkpoint import Checkpoint
from utils.config import apply_overrides, config_from_dict, config_to_dict, read_yaml, resolve_device
from utils.config.declare import declared_keys
from utils.config.errors import UserError
from utils.config.schema import Config, DatasetConfig
from utils.data.families import DatasetFamily, dataset_family
from utils.data.families.base import MissingDescription
from utils.data.transforms import training_crop
from utils.deployment.runtime import OnnxModel
from utils.deployment.sidecar import resolve_onnx_path
from utils.evaluation.inference import ModelRunner
from utils.evaluation.predict import PredictionStep
from utils.evaluation.tta import tta_views
from utils.files import ensure_writable_folder
from utils.labels import LabelSet
from utils.runtime import amp_dtype, memory_format

# Keys a user's eval (or paint) config file may change: those the schema declares in_eval="user" (paths, eval,
# paint, where the data lies); the model, labels, loss and input size come from the checkpoint (``--set`` can
# still override anything, e.g. dataset.crop_size for sliding windows).
USER_KEYS = {key for key, _ in declared_keys(Config, in_eval="user")}
SCHEMA_KEYS = {key for key, _ in declared_keys(Config)}


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


def _checkpoint_path(raw: dict, cli_checkpoint) -> Path:
    if cli_checkpoint:
        return Path(cli_checkpoint)
    ev, paths = raw.get("eval") or {}, raw.get("paths") or {}
    if ev.get("checkpoint"):
        return Path(ev["checkpoint"])
    if paths.get("output_dir"):
        return Path(paths["output_dir"]) / "best.pth"
    raise UserError(
        "No checkpoint given: pass --checkpoint PATH, set eval.checkpoint, or set paths.output_dir to a run folder "
        "holding best.pth."
    )


def trained_size(ckpt: Checkpoint) -> list:
    """[H, W] the checkpoint's images were resized to: the scale at ratio 1 of its training stage."""
    raw, stage = ckpt.config, ckpt.progress.stage if ckpt.progress else 0
    stages = (raw.get("training") or {}).get("stages") or []
    if stage < len(stages) and stages[stage].get("size"):
        return list(stages[stage]["size"])  # a staged run ends at its last stage's size
    return list((raw.get("dataset") or {}).get("size") or DatasetConfig().size)


def scale_warnings(cfg, trained: list) -> list:
    """Sentences about eval settings that would not see objects at the scale the model was trained on."""
    size, window, notes = list(cfg.dataset.size), training_crop(cfg.dataset), []
    if size != list(trained):
        ratio = size[0] / trained[0]
        notes.append(
            f"dataset.size is {size} but the checkpoint was trained on images resized to {list(trained)}: objects "
            f"appear at {ratio:.2f}x their training size. "
            "Leave dataset.size as the checkpoint has it; for sliding windows set dataset.crop_size instead."
        )
    if cfg.eval.inference == "slide" and window[0] >= size[0] and window[1] >= size[1]:
        notes.append(
            f"eval.inference is slide but the window ({window}, dataset.crop_size or else dataset.size) covers "
            f"the whole {size} image: "
            "this is whole-image inference. Set dataset.crop_size (the training crop) for windows."
        )
    return notes


def merged_config(config_path, cli_checkpoint, overrides, paint_frames: bool = False):
    """(Config, :class:`~utils.checkpoint.Checkpoint`, checkpoint path).

    The checkpoint's training config, with the user file's ``paths``, ``eval`` and data-location keys
    on top, the input size of the stage the checkpoint was trained in, then the --set overrides.
    ``paint_frames``: paint_points.py paints KITTI frames with any model, so a user's ``target: kitti``
    only says where the frames are; the classes (target and labels) stay the checkpoint's.
    """
    user = read_yaml(config_path) if config_path else {}
    path = _checkpoint_path(apply_overrides(copy.deepcopy(user), overrides), cli_checkpoint)
    ckpt = Checkpoint.load(path)
    if ckpt.config is None:
        if not config_path:
            raise UserError(
                f"Checkpoint '{path}' holds weights only, without the config that describes its model. Pass "
                "--config_path with the training config it was trained with."
            )
        ckpt.config = config_to_dict(config_from_dict(user))  # the user's file describes the model
    raw = dict(ckpt.config)
    trained_on = raw.get("target")
    raw["target"] = trained_on if paint_frames else user.get("target", trained_on)  # checked below, after the overrides
    if paint_frames:
        overrides = [o for o in overrides or [] if o.split("=", 1)[0].strip() != "target"]
    for section, values in user.items():
        if isinstance(values, dict) and isinstance(raw.get(section, {}), dict):
            raw[section] = {**(raw.get(section) or {}), **_user_keys(section, values)}
    raw["dataset"] = {**(raw.get("dataset") or {}), "size": trained_size(ckpt)}
    cfg = config_from_dict(raw, overrides)
    if trained_on != cfg.target:
        raise UserError(
            f"target is '{cfg.target}' but checkpoint '{path}' was trained on '{trained_on}'. Evaluate it on its own "
            "dataset family."
        )
    return cfg, ckpt, path


def _user_keys(section: str, values: dict) -> dict:
    """The keys of one section of the user's file that eval takes over the checkpoint's; an unknown key passes
    through, so that config_from_dict names the closest valid one."""
    return {k: v for k, v in values.items() if f"{section}.{k}" in USER_KEYS or f"{section}.{k}" not in SCHEMA_KEYS}


def eval_labels(family: DatasetFamily, ckpt: Checkpoint, log) -> LabelSet:
    """The family's classes; the checkpoint's own copy where the dataset that describes them is not at hand
    (Vistas' config or a folder dataset's classes.yaml on a machine with only the checkpoint)."""
    try:
        return family.labels()
    except MissingDescription as exc:  # a broken classes.yaml or config still stops: only an absent one falls back
        if ckpt.labels is None:
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
    labels = eval_labels(family, ckpt, log)
    device = resolve_device(cfg.eval.device)
    if cfg.eval.backend == "onnxruntime":
        predictor = _onnxruntime_predictor(cfg, path, labels, device, log)
    else:
        if cfg.eval.onnx:
            log.info(
                f"note: eval.onnx is set but eval.backend is pytorch: evaluating {path}; add eval.backend=onnxruntime "
                "to evaluate the graph"
            )
        predictor = _pytorch_predictor(cfg, ckpt, path, labels, device)
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
        f"{cfg.model.arch}/{cfg.model.encoder}, classes: {', '.join(labels.names)}"
    )
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
    return EvalSetup(cfg, labels, predictor, views, path, out, device, fill, family, step)
