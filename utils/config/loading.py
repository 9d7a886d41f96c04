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
from typing import Literal, Optional, Union

import yaml

from utils.config.errors import UserError
from utils.config.schema import Config, DatasetConfig, EvalConfig, ModelConfig, PathsConfig, StageConfig, TrainingConfig
from utils.config.yaml_file import read_yaml

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


def _check_rules(node, prefix: str) -> None:
    """Each key's declared :class:`~utils.config.declare.Rule`, in schema order, into sections and stage lists."""
    for f in dataclasses.fields(node):
        key, value = f"{prefix}{f.name}", getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            _check_rules(value, f"{key}.")
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            for i, entry in enumerate(value):
                _check_rules(entry, f"{key}[{i}].")
        elif f.metadata.get("rule") is not None and not f.metadata["rule"].ok(value):
            raise UserError(f"Config key '{key}' is {value!r}; it {f.metadata['rule'].text}.")


def _check_combinations(cfg: Config) -> None:
    """The rules that involve more than one key (target and dataset.labels are the dataset family's to check)."""

    def bad(key, msg):
        raise UserError(f"Config key '{key}' {msg}")

    t, d = cfg.training, cfg.dataset
    if not cfg.target.strip():
        bad("target", "is empty; it names a dataset family, e.g. cityscapes.")
    if d.cat_max_ratio < 1 and d.crop_size is None and tuple(d.scale_range) == (1.0, 1.0):
        bad(
            "dataset.cat_max_ratio",
            f"is {d.cat_max_ratio} but training takes no crops: set dataset.crop_size or a "
            "dataset.scale_range other than [1, 1], or cat_max_ratio: 1.0.",
        )
    if t.max_iters and t.stages:
        bad(
            "training.max_iters",
            f"is {t.max_iters!r}; it cannot be combined with training.stages (stages count epochs); set one of them.",
        )
    if not 0 <= t.min_lr < t.lr:
        bad("training.min_lr", f"is {t.min_lr!r}; it must lie in [0, training.lr).")


def _validate(cfg: Config) -> None:
    _check_rules(cfg, "")
    _check_combinations(cfg)


def config_from_dict(data: dict, overrides: Optional[list[str]] = None) -> Config:
    """Builds and validates a Config from a raw mapping plus ``section.key=value`` overrides."""
    data = apply_overrides(copy.deepcopy(dict(data or {})), overrides or [])
    cfg = _build(Config, data, "")
    _validate(cfg)
    return cfg


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
