"""Typed run configuration: YAML loading, validation and ``--set`` overrides over the schema.

Every key is declared once in :mod:`utils.config.schema` with its help text. ``load_config`` rejects unknown keys (naming
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
from pathlib import Path
from typing import Literal, Optional, Union

import yaml

from utils.config.errors import UserError
from utils.config.schema import Config, DatasetConfig, EvalConfig, ModelConfig, PathsConfig, StageConfig, TrainingConfig

__all__ = [
    "Config",
    "DatasetConfig",
    "EvalConfig",
    "ModelConfig",
    "PathsConfig",
    "StageConfig",
    "TrainingConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
]


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
                raise UserError(
                    f"Override '{text}': unknown key '{'.'.join(parts[: depth + 1])}'.{_closest(part, valid)}"
                )
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

    sizes = [("dataset.size", cfg.dataset.size), ("dataset.crop_size", cfg.dataset.crop_size)] + [
        (f"training.stages[{i}].size", s.size) for i, s in enumerate(cfg.training.stages)
    ]
    for key, size in sizes:
        if size is not None and (len(size) != 2 or min(size) < 32):
            bad(key, f"is {size}; it must be [H, W] with both at least 32, e.g. [512, 1024].")
    # target and dataset.labels are the dataset family's to check (utils/data/families), when the run asks it for items or labels.
    if not cfg.target.strip():
        bad("target", "is empty; it names a dataset family, e.g. cityscapes.")
    if not 0.0 <= cfg.training.bce_weight <= 1.0:
        bad("training.bce_weight", f"is {cfg.training.bce_weight}; it must lie in [0, 1].")
    if not 0.0 < cfg.dataset.val_fraction < 1.0:
        bad("dataset.val_fraction", f"is {cfg.dataset.val_fraction}; it must lie strictly between 0 and 1.")
    lo, hi = (cfg.dataset.scale_range + [0, 0])[:2]
    if len(cfg.dataset.scale_range) != 2 or not 0 < lo <= hi:
        bad("dataset.scale_range", f"is {cfg.dataset.scale_range}; it must be [min, max] with 0 < min <= max.")
    if cfg.dataset.cat_max_ratio < 1 and cfg.dataset.crop_size is None and (lo, hi) == (1.0, 1.0):
        bad(
            "dataset.cat_max_ratio",
            f"is {cfg.dataset.cat_max_ratio} but training takes no crops: set dataset.crop_size or a "
            "dataset.scale_range other than [1, 1], or cat_max_ratio: 1.0.",
        )
    for key in ("epochs", "batch_size", "accumulation_steps"):
        if getattr(cfg.training, key) < 1:
            bad(f"training.{key}", f"is {getattr(cfg.training, key)}; it must be at least 1.")
    if cfg.training.lr <= 0:
        bad("training.lr", f"is {cfg.training.lr}; it must be positive.")
    t, m, d = cfg.training, cfg.model, cfg.dataset
    checks = [
        (
            "training.clip_grad_norm",
            t.clip_grad_norm is None or t.clip_grad_norm > 0,
            "must be positive, or null to turn clipping off",
        ),
        ("model.dropout", 0.0 <= m.dropout < 1.0, "must lie in [0, 1)"),
        (
            "model.fpn_pyramid_channels",
            m.fpn_pyramid_channels > 0 and m.fpn_pyramid_channels % 32 == 0,
            "must be a positive multiple of 32 (GroupNorm uses 32 groups)",
        ),
        (
            "model.fpn_segmentation_channels",
            m.fpn_segmentation_channels > 0 and m.fpn_segmentation_channels % 32 == 0,
            "must be a positive multiple of 32 (GroupNorm uses 32 groups)",
        ),
        (
            "model.unet_decoder_channels",
            len(m.unet_decoder_channels) == 5 and min(m.unet_decoder_channels) > 0,
            "must list five positive widths, deepest first",
        ),
        ("model.unet_num_filters", m.unet_num_filters > 0, "must be positive"),
        ("dataset.color_jitter", d.color_jitter >= 0, "must not be negative"),
        ("dataset.hue_jitter", 0 <= d.hue_jitter <= 0.5, "must lie in [0, 0.5]"),
        ("dataset.weather_p", 0 <= d.weather_p <= 1, "must lie in [0, 1]"),
        (
            "dataset.cache_dir",
            d.cache_dir is None or d.cache_dir.strip() != "",
            "must be a folder path, or null for <paths.root>/prepared",
        ),
        ("dataset.cat_max_ratio", 0 < d.cat_max_ratio <= 1, "must lie in (0, 1]; 1.0 turns it off"),
        ("training.weight_decay", t.weight_decay >= 0, "must not be negative"),
        ("training.momentum", 0 <= t.momentum < 1, "must lie in [0, 1)"),
        ("training.num_workers", t.num_workers >= 0, "must not be negative"),
        ("training.iters_per_epoch", t.iters_per_epoch >= 0, "must be 0 (whole epochs) or positive"),
        ("training.val_every_iters", t.val_every_iters >= 0, "must be 0 (per epoch) or positive"),
        ("training.warmup_iters", t.warmup_iters >= 0, "must not be negative"),
        ("training.max_iters", t.max_iters >= 0, "must be 0 (use epochs) or positive"),
        (
            "training.max_iters",
            t.max_iters == 0 or not t.stages,
            "cannot be combined with training.stages (stages count epochs); set one of them",
        ),
        ("training.checkpoint_every_iters", t.checkpoint_every_iters >= 0, "must be 0 (once per epoch) or positive"),
        ("training.max_nonfinite_steps", t.max_nonfinite_steps >= 0, "must not be negative"),
        ("training.min_lr", 0 <= t.min_lr < t.lr, "must lie in [0, training.lr)"),
        ("training.freeze_encoder_iters", t.freeze_encoder_iters >= 0, "must not be negative"),
        ("training.poly_power", t.poly_power > 0, "must be positive"),
        ("training.plateau_factor", 0 < t.plateau_factor < 1, "must lie strictly between 0 and 1"),
        ("training.plateau_patience", t.plateau_patience >= 0, "must not be negative"),
        (
            "training.ohem_thresh",
            t.ohem_thresh is None or 0 < t.ohem_thresh <= 1,
            "must lie in (0, 1], or null to turn OHEM off",
        ),
        ("training.ohem_min_kept", t.ohem_min_kept >= 1, "must be at least 1"),
        (
            "training.class_weights",
            t.class_weights is None or (min(t.class_weights, default=0) >= 0 and max(t.class_weights, default=0) > 0),
            "must hold non-negative weights, at least one positive",
        ),
        ("eval.num_workers", cfg.eval.num_workers >= 0, "must not be negative"),
        ("eval.report_worst", cfg.eval.report_worst >= 0, "must be 0 (no panels) or a number of images"),
        ("eval.tsharpen_t", cfg.eval.tsharpen_t > 0, "must be positive"),
        ("eval.overlay_alpha", 0 <= cfg.eval.overlay_alpha <= 1, "must lie in [0, 1]"),
    ]
    for i, stage in enumerate(t.stages):
        checks += [
            (f"training.stages[{i}].epochs", stage.epochs >= 1, "must be at least 1"),
            (
                f"training.stages[{i}].batch_size",
                stage.batch_size is None or stage.batch_size >= 1,
                "must be at least 1 (or null)",
            ),
            (f"training.stages[{i}].lr", stage.lr is None or stage.lr > 0, "must be positive (or null)"),
        ]
    for key, ok, rule in checks:
        if not ok:
            value = eval_key(cfg, key)
            bad(key, f"is {value!r}; it {rule}.")
    if cfg.eval.batch_size < 1:
        bad("eval.batch_size", f"is {cfg.eval.batch_size}; it must be at least 1.")
    if not 0.0 <= cfg.eval.slide_overlap <= 0.9:
        bad(
            "eval.slide_overlap",
            f"is {cfg.eval.slide_overlap}; it must lie in [0, 0.9] (higher means thousands of windows per image).",
        )
    if cfg.eval.video_fps <= 0:
        bad("eval.video_fps", f"is {cfg.eval.video_fps}; it must be positive.")
    if cfg.eval.drop_clusters < 0:
        bad("eval.drop_clusters", f"is {cfg.eval.drop_clusters}; it must be 0 (off) or a positive pixel count.")
    if not cfg.eval.tta_scales or min(cfg.eval.tta_scales) <= 0:
        bad("eval.tta_scales", f"is {cfg.eval.tta_scales}; it must be a non-empty list of positive scales.")
    if cfg.paint.eps <= 0:
        bad("paint.eps", f"is {cfg.paint.eps}; it must be a positive distance in metres, e.g. 0.5.")
    if cfg.paint.min_samples < 1:
        bad("paint.min_samples", f"is {cfg.paint.min_samples}; it must be at least 1.")


def eval_key(cfg, dotted: str):
    """The value at ``section.key`` or ``training.stages[i].key``, for error messages."""
    node = cfg
    for part in re.split(r"\.|\[|\]\.?", dotted):
        if part:
            node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node


def config_from_dict(data: dict, overrides: Optional[list[str]] = None) -> Config:
    """Builds and validates a Config from a raw mapping plus ``section.key=value`` overrides."""
    data = apply_overrides(copy.deepcopy(dict(data or {})), overrides or [])
    cfg = _build(Config, data, "")
    _validate(cfg)
    return cfg


def read_yaml(path) -> dict:
    """The mapping in a YAML config file; every way the file can be unusable is a UserError naming it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(
            f"Config path '{path}' is a directory, not a YAML file. Pass --config_path with a file, e.g. "
            "train_config.yaml."
        )
    if not path.is_file():
        raise UserError(
            f"Config file '{path}' does not exist. Pass --config_path with a YAML file, e.g. train_config.yaml."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"Config file '{path}' is not UTF-8 text (byte {exc.start}: {exc.reason}). Save it as UTF-8."
        ) from None
    except OSError as exc:
        raise UserError(f"Config file '{path}' cannot be read: {exc.strerror}.") from None
    if not text.strip():
        raise UserError(
            f"Config file '{path}' is empty. Start from train_config.yaml or configs/quickstart.yaml; an empty file "
            "would train on defaults."
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"Config file '{path}' is not valid YAML{where}: {problem}.") from None
    if data is None:
        raise UserError(
            f"Config file '{path}' holds only comments. Start from train_config.yaml or configs/quickstart.yaml."
        )
    if not isinstance(data, dict):
        raise UserError(f"Config file '{path}' must hold a mapping of sections, got {type(data).__name__}.")
    return data


def load_config(path, overrides: Optional[list[str]] = None) -> Config:
    """Reads a YAML config file, applies overrides and returns the validated, frozen Config.

    An error is attributed to the file when the file alone has it, and to ``--set`` otherwise.
    """
    data = read_yaml(path)
    try:
        return config_from_dict(data, overrides)
    except UserError as exc:
        if overrides:
            try:
                config_from_dict(data)
            except UserError:
                pass
            else:
                raise UserError(f"--set: {exc}") from None
        raise UserError(f"{path}: {exc}") from None


def config_to_dict(cfg: Config) -> dict:
    """Plain dicts, lists and scalars: safe for YAML and for ``torch.load(weights_only=True)``."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Config, path) -> None:
    from utils.files import atomic_write_text  # files imports this package's errors module

    atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("training.device / eval.device is 'cuda' but no CUDA GPU is visible. Set it to auto or cpu.")
    return torch.device(name)
