"""Configuration: the schema, YAML loading with ``--set`` overrides, the reference, the CLI helpers and the user-error type.

- :mod:`utils.config.schema`: every key once (``Config`` and its sections), declared with
  :func:`utils.config.declare.opt` (default, help and roles);
- :mod:`utils.config.loading`: ``load_config(path, overrides)`` returns the frozen ``Config``; ``config_from_dict``
  does the same from a mapping; ``config_to_dict``, ``save_config``, ``apply_overrides``;
- :mod:`utils.config.cli`: ``add_config_arguments`` / ``run_main`` give every entry script the same flags and exit
  codes; :mod:`utils.config.errors`: ``UserError``, the one exception for mistakes a user can fix;
- ``python -m utils.config.reference`` prints docs/configuration.md.

Importing this package imports nothing else: the architectures' key declarations (models/archs) import
``utils.config.declare`` while the schema imports them.
"""
