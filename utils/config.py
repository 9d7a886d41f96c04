"""Typed run configuration: the schema with every key's default and meaning, YAML loading and overrides.

Every key is declared once below with its help text. ``load_config`` rejects unknown keys (naming
the closest valid one) and bad values (naming the allowed ones), applies ``--set section.key=value``
overrides, and returns frozen dataclasses. ``config_to_dict`` turns them back into plain YAML types
for ``config.yaml`` and checkpoints.
"""

import copy
import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional, Union

import yaml

from utils.errors import UserError


def opt(default, help_text: str):
    """Declares a config key: its default and the one-line help shown in the README reference."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: list(default), metadata={"help": help_text})
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class PathsConfig:
    root: str = opt("data/cityscapes", "dataset root: the Cityscapes folder holding leftImg8bit/ and gtFine/, or the KITTI folder holding data_road/")
    output_dir: str = opt("runs/cityscapes_fpn_categories", "run folder: config.yaml, checkpoints, tensorboard/, train.log, metrics.json")


@dataclass(frozen=True)
class DatasetConfig:
    labels: Union[str, list[str]] = opt("categories", "cityscapes: road | categories | classes | a list of label names; kitti: road | lane")
    unlabeled_class: bool = opt(False, "classes mode: train 'unlabeled' as a 20th class instead of ignoring void pixels")
    size: list[int] = opt([512, 1024], "[H, W] the images are resized to for training and inference")
    val_cities: list[str] = opt([], "cityscapes: validate on these train cities instead of the official val split (the original used [ulm, bremen, aachen])")
    coarse: bool = opt(False, "cityscapes: add gtCoarse train and train_extra images to the training set (for pre-training)")
    val_fraction: float = opt(0.2, "kitti: fraction of data_road/training held out for validation, chosen deterministically")
    scale_range: list[float] = opt([0.5, 2.0], "training: random scale range applied before the crop; [1, 1] turns scaling off")
    hflip: bool = opt(True, "training: random horizontal flip")
    color_jitter: float = opt(0.2, "training: brightness, contrast and saturation jitter strength; 0 turns it off")
    hue_jitter: float = opt(0.02, "training: hue jitter, as a fraction of the hue circle")
    weather_aug: bool = opt(False, "training: the original's hard augmentations (rain, snow, fog, shadow, sun flare)")
    weather_p: float = opt(0.3, "training: probability of one weather effect per image when weather_aug is on")


@dataclass(frozen=True)
class ModelConfig:
    arch: Literal["fpn", "unet"] = opt("fpn", "fpn (Panoptic-FPN semantic head) or unet")
    encoder: str = opt("resnext50_32x4d", "torchvision encoder: resnet18/34/50/101, resnext50_32x4d (alias resnext50), resnext101_32x8d")
    encoder_weights: Optional[Literal["imagenet"]] = opt("imagenet", "imagenet (torchvision weights API) or null for random init")
    dropout: float = opt(0.2, "Dropout2d probability (FPN: before the head; UNET original preset: on encoder stages)")
    fpn_merge: Literal["add", "cat"] = opt("add", "fpn: how the four upsampled pyramid levels are merged")
    fpn_pyramid_channels: int = opt(256, "fpn: channels of the feature pyramid")
    fpn_segmentation_channels: int = opt(128, "fpn: channels of the segmentation branches")
    unet_preset: Literal["light", "original"] = opt("light", "unet: light (smp-style decoder) or original (the original project's TernausNet decoder, ~81M params)")
    unet_decoder_channels: list[int] = opt([256, 128, 64, 32, 16], "unet light: widths of the five decoder blocks, deepest first")
    unet_num_filters: int = opt(32, "unet original: num_filters of the TernausNet decoder")
    unet_res_blocks: bool = opt(False, "unet original: residual blocks inside the decoder blocks (~92M params)")


@dataclass(frozen=True)
class StageConfig:
    epochs: int = opt(1, "epochs of this stage")
    size: Optional[list[int]] = opt(None, "[H, W] for this stage; null keeps dataset.size")
    batch_size: Optional[int] = opt(None, "batch size for this stage; null keeps training.batch_size")
    lr: Optional[float] = opt(None, "learning rate for this stage; null keeps training.lr")


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = opt(40, "number of epochs (ignored when stages is set)")
    batch_size: int = opt(8, "images per step on each process")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto picks cuda when available")
    num_workers: int = opt(4, "data-loading worker processes per training process")
    optimizer: Literal["adam", "adamw", "sgd"] = opt("adam", "adam (the original's), adamw, or sgd with momentum")
    lr: float = opt(1e-3, "peak learning rate")
    weight_decay: float = opt(0.0, "weight decay")
    momentum: float = opt(0.9, "sgd momentum")
    scheduler: Literal["plateau", "poly", "cosine", "none"] = opt("plateau", "plateau (ReduceLROnPlateau on the key metric, the original's), poly, cosine or none")
    plateau_patience: int = opt(3, "plateau: validations without improvement before the lr drops")
    plateau_factor: float = opt(0.1, "plateau: factor the lr is multiplied by")
    poly_power: float = opt(0.9, "poly: lr = lr0 * (1 - it / total) ** power")
    warmup_iters: int = opt(0, "poly and cosine: linear warmup iterations")
    accumulation_steps: int = opt(1, "batches whose gradients are summed before an optimizer step")
    freeze_encoder_iters: int = opt(0, "keep the encoder frozen for this many optimizer steps (the original's freeze_n_iters)")
    clip_grad_norm: Optional[float] = opt(None, "clip the gradient norm to this value; null turns clipping off")
    amp: Literal["none", "bf16", "fp16"] = opt("bf16", "mixed precision on CUDA (ignored on CPU); fp16 uses a gradient scaler")
    channels_last: bool = opt(True, "channels_last memory format on CUDA")
    cudnn_benchmark: bool = opt(True, "let cuDNN pick the fastest kernels (off in deterministic mode)")
    compile: bool = opt(False, "torch.compile the model")
    sync_bn: bool = opt(True, "multi-GPU: convert BatchNorm to SyncBatchNorm")
    seed: int = opt(42, "seed for weights, sampling and augmentation")
    deterministic: bool = opt(False, "deterministic algorithms: bit-exact runs and resumes, slower")
    loss: Literal["bce_dice", "ce_dice"] = opt("bce_dice", "bce_dice (per-class BCE + soft dice, the original's) or ce_dice (softmax CE + soft dice)")
    bce_weight: float = opt(0.8, "weight of the pixel term (BCE or CE); the dice term gets 1 - bce_weight")
    class_weights: Optional[list[float]] = opt(None, "one weight per class for both loss terms; null weighs classes equally")
    key_metric: Literal["miou", "mean_dice", "loss"] = opt("miou", "validation metric that picks best.pth and drives the plateau scheduler")
    val_every_iters: int = opt(0, "validate every N optimizer steps as well; 0 validates once per epoch only")
    iters_per_epoch: int = opt(0, "cap on training steps per epoch; 0 runs the whole training set")
    log_every_iters: int = opt(20, "steps between TensorBoard scalar writes")
    tb_images: int = opt(4, "fixed val images drawn into TensorBoard each validation")
    init_from: Optional[str] = opt(None, "checkpoint whose weights start this run; a head of another class count is re-initialised")
    stages: list[StageConfig] = opt([], "multi-stage training: a list of {epochs, size, batch_size, lr}, each starting from the previous stage's weights")


@dataclass(frozen=True)
class EvalConfig:
    checkpoint: Optional[str] = opt(None, "checkpoint to evaluate; null takes best.pth in paths.output_dir")
    output_dir: Optional[str] = opt(None, "where metrics, pictures and videos go; null means <paths.output_dir>/eval")
    split: Literal["val", "test", "train"] = opt("val", "labelled split for metrics, or test to predict without labels (the original's test_mode)")
    input: Optional[str] = opt(None, "a folder of images or a video file to predict on instead of a split")
    tta: Literal["none", "hflip", "vflip", "hvflip", "multiscale"] = opt("none", "test-time augmentation (the original's apply_tta)")
    tta_scales: list[float] = opt([0.75, 1.0, 1.25], "multiscale: input scales relative to dataset.size")
    tta_flip: bool = opt(True, "multiscale: add a horizontal flip at each scale")
    merge: Literal["mean", "gmean", "tsharpen"] = opt("mean", "how TTA probabilities are merged")
    tsharpen_t: float = opt(0.5, "tsharpen: the power t in (p_1^t + ... + p_N^t) / N")
    drop_clusters: int = opt(0, "DropClusters: replace connected components smaller than this many pixels; 0 turns it off")
    drop_clusters_fill: str = opt("majority", "what replaces a dropped cluster: majority (surrounding class), ignore, or a class name")
    inference: Literal["resize", "slide"] = opt("resize", "resize to dataset.size, or slide a dataset.size window over the full-resolution image")
    slide_overlap: float = opt(0.33, "slide: overlap between neighbouring windows")
    batch_size: int = opt(4, "images per inference batch")
    num_workers: int = opt(2, "data-loading worker processes")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto picks cuda when available")
    amp: bool = opt(True, "bf16 autocast on CUDA")
    overlay: bool = opt(True, "save prediction overlays on the input (the original's images_morphing)")
    overlay_alpha: float = opt(0.5, "opacity of the colorized prediction in overlays")
    max_images: int = opt(20, "prediction pictures saved; -1 saves all (official-format PNGs are always all)")
    video_fps: float = opt(17.0, "frame rate of videos made from frame folders")
    official: bool = opt(True, "cityscapes classes mode on val: also run cityscapesscripts' official evaluator on the exports and print its mIoU")


@dataclass(frozen=True)
class Config:
    target: Literal["cityscapes", "kitti"] = opt("cityscapes", "dataset family: cityscapes or kitti")
    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config) if dataclasses.is_dataclass(f.type)}


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _closest(name: str, valid) -> str:
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" Did you mean '{match[0]}'?" if match else f" Valid keys: {', '.join(valid)}."


def _describe(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join("null" if a is None else str(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value, tp, key: str):
    """Checks ``value`` against the annotation ``tp``; returns it converted (ints to floats, dicts to dataclasses)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg, key)
            except UserError:
                continue
    elif origin is Literal:
        if value in typing.get_args(tp):
            return value
    elif origin is list:
        if isinstance(value, list):
            return [_coerce(v, typing.get_args(tp)[0], f"{key}[{i}]") for i, v in enumerate(value)]
    elif dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    elif tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)  # PyYAML reads 1e-4 (no dot) as a string
    elif tp is str:
        if isinstance(value, str):
            return value
    raise UserError(f"Config key '{key}' has the value {value!r}; allowed: {_describe(tp)}.")


def _build(cls, data, prefix: str):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"Config key '{prefix}' must be a mapping of keys to values, got {data!r}.")
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise UserError(f"Unknown config key '{full}'.{_closest(str(key), names)}")
        kwargs[key] = _coerce(value, typing.get_type_hints(cls)[key], full)
    return cls(**kwargs)


def _parse_override(text: str) -> tuple[list[str], object]:
    if "=" not in text:
        raise UserError(f"Override '{text}' must look like section.key=value, e.g. training.epochs=10.")
    dotted, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise UserError(f"Override '{text}': the value is not valid YAML ({exc}).") from None
    return dotted.strip().split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Sets ``section.key=value`` overrides (values parsed as YAML) on the raw config mapping."""
    for text in overrides or []:
        parts, value = _parse_override(text)
        node, valid = data, [f.name for f in dataclasses.fields(Config)]
        for depth, part in enumerate(parts):
            if part not in valid:
                raise UserError(f"Override '{text}': unknown key '{'.'.join(parts[: depth + 1])}'.{_closest(part, valid)}")
            if depth == len(parts) - 1:
                node[part] = value
            else:
                if part not in SECTIONS:
                    raise UserError(f"Override '{text}': '{part}' is not a section.")
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
                valid = [f.name for f in dataclasses.fields(SECTIONS[part])]
    return data


def _validate(cfg: Config) -> None:
    def bad(key, msg):
        raise UserError(f"Config key '{key}' {msg}")

    sizes = [("dataset.size", cfg.dataset.size)] + [(f"training.stages[{i}].size", s.size) for i, s in enumerate(cfg.training.stages)]
    for key, size in sizes:
        if size is not None and (len(size) != 2 or min(size) < 32):
            bad(key, f"is {size}; it must be [H, W] with both at least 32, e.g. [512, 1024].")
    labels = cfg.dataset.labels
    if cfg.target == "kitti" and labels not in ("road", "lane"):
        bad("dataset.labels", f"is {labels!r}; with target kitti it must be road or lane.")
    if cfg.target == "cityscapes" and isinstance(labels, str) and labels not in ("road", "categories", "classes"):
        bad("dataset.labels", f"is {labels!r}; allowed: road | categories | classes | a list of label names.")
    if not 0.0 <= cfg.training.bce_weight <= 1.0:
        bad("training.bce_weight", f"is {cfg.training.bce_weight}; it must lie in [0, 1].")
    if not 0.0 < cfg.dataset.val_fraction < 1.0:
        bad("dataset.val_fraction", f"is {cfg.dataset.val_fraction}; it must lie strictly between 0 and 1.")
    lo, hi = (cfg.dataset.scale_range + [0, 0])[:2]
    if len(cfg.dataset.scale_range) != 2 or not 0 < lo <= hi:
        bad("dataset.scale_range", f"is {cfg.dataset.scale_range}; it must be [min, max] with 0 < min <= max.")
    for key in ("epochs", "batch_size", "accumulation_steps"):
        if getattr(cfg.training, key) < 1:
            bad(f"training.{key}", f"is {getattr(cfg.training, key)}; it must be at least 1.")
    if cfg.training.lr <= 0:
        bad("training.lr", f"is {cfg.training.lr}; it must be positive.")
    if cfg.eval.batch_size < 1:
        bad("eval.batch_size", f"is {cfg.eval.batch_size}; it must be at least 1.")
    if not 0.0 <= cfg.eval.slide_overlap < 1.0:
        bad("eval.slide_overlap", f"is {cfg.eval.slide_overlap}; it must lie in [0, 1).")
    if not cfg.eval.tta_scales or min(cfg.eval.tta_scales) <= 0:
        bad("eval.tta_scales", f"is {cfg.eval.tta_scales}; it must be a non-empty list of positive scales.")


def config_from_dict(data: dict, overrides: Optional[list[str]] = None) -> Config:
    """Builds and validates a Config from a raw mapping plus ``section.key=value`` overrides."""
    data = apply_overrides(copy.deepcopy(dict(data or {})), overrides or [])
    cfg = _build(Config, data, "")
    _validate(cfg)
    return cfg


def read_yaml(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Config file '{path}' does not exist. Pass --config_path with a YAML file, e.g. train_config.yaml.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"Config file '{path}' is not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise UserError(f"Config file '{path}' must hold a mapping of sections, got {type(data).__name__}.")
    return data or {}


def load_config(path, overrides: Optional[list[str]] = None) -> Config:
    """Reads a YAML config file, applies overrides and returns the validated, frozen Config."""
    try:
        return config_from_dict(read_yaml(path), overrides)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def config_to_dict(cfg: Config) -> dict:
    """Plain dicts, lists and scalars: safe for YAML and for ``torch.load(weights_only=True)``."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Config, path) -> None:
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("training.device / eval.device is 'cuda' but no CUDA GPU is visible. Set it to auto or cpu.")
    return torch.device(name)
