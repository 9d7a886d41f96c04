"""Configuration: the schema, YAML loading with ``--set`` overrides, the README reference, the CLI helpers and the user-error type.

Entry points: ``load_config(path, overrides)`` returns the frozen :class:`Config`; ``config_from_dict`` does the same from
a mapping; ``add_config_arguments`` / ``run_main`` (:mod:`utils.config.cli`) give every entry script the same flags and
exit codes; :class:`UserError` (:mod:`utils.config.errors`) is the one exception for mistakes a user can fix.
``python -m utils.config.reference`` prints the README's configuration reference.
"""

from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.config.loading import (
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
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
    "EXIT_USER_ERROR",
    "UserError",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "read_yaml",
    "save_config",
]
