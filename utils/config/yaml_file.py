"""Reading a YAML config file: every way the file can be unusable is one line naming it."""

from pathlib import Path

import yaml

from utils.config.errors import UserError


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
