"""The config an evaluation runs with: the checkpoint's training config, with the user's file on top where the
schema allows it (``in_eval="user"``), at the input size the checkpoint was trained at, then ``--set``."""

import copy
import dataclasses
from pathlib import Path

from utils.checkpoint import Checkpoint
from utils.config.declare import declared_keys
from utils.config.errors import UserError
from utils.config.loading import apply_overrides, config_from_dict, config_to_dict
from utils.config.schema import Config, DatasetConfig
from utils.config.yaml_file import read_yaml
from utils.data.families import FAMILIES
from utils.data.sources import in_cityscapes19
from utils.data.transforms import training_crop

# Keys a user's eval (or paint) config file may change: those the schema declares in_eval="user" (paths, eval,
# paint, where the data lies); the model, labels, loss and input size come from the checkpoint (``--set`` can
# still override anything, e.g. dataset.crop_size for sliding windows).
USER_KEYS = {key for key, _ in declared_keys(Config, in_eval="user")}
SCHEMA_KEYS = {key for key, _ in declared_keys(Config)}


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
    on top, the input size of the stage the checkpoint was trained in, then the --set overrides. A ``target`` other
    than the checkpoint's takes that family's dataset keys (:func:`other_family_dataset`); whether its classes can
    score the model is setup.py's question (utils/data/taxonomy.py).
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
    if paint_frames:
        overrides = [o for o in overrides or [] if o.split("=", 1)[0].strip() != "target"]
        target = trained_on
    else:
        target = apply_overrides(copy.deepcopy(user), overrides).get("target", trained_on)
    raw["target"] = target
    source = None if paint_frames else trained_source(raw.get("dataset") or {}, target)
    if source is not None:  # a dataset.sources run scored on one of its sources: that source's root and labels
        raw["dataset"] = other_family_keys({**raw["dataset"], "sources": [], "labels": source.get("labels")}, target)
        # The file's paths.root is where its own target lies; --set paths.root=... always wins.
        root_set = "root" in (apply_overrides({}, overrides or []).get("paths") or {})
        file_root = user.get("target", trained_on) == target and "root" in (user.get("paths") or {})
        if not (root_set or file_root):
            raw["paths"] = {**(raw.get("paths") or {}), "root": source.get("root")}
            user = {**user, "paths": {k: v for k, v in (user.get("paths") or {}).items() if k != "root"}}
        trained_on = target
    elif target != trained_on:  # another dataset: its own dataset keys; the classes are related in setup.py
        raw["dataset"] = other_family_dataset(raw.get("dataset") or {}, target)
    for section, values in user.items():
        if isinstance(values, dict) and isinstance(raw.get(section, {}), dict):
            taken = other_family_keys(values, target) if section == "dataset" and target != trained_on else None
            taken = _user_keys(section, values) if taken is None else taken
            raw[section] = {**(raw.get(section) or {}), **taken}
    raw["dataset"] = {**(raw.get("dataset") or {}), "size": trained_size(ckpt)}
    return config_from_dict(raw, overrides), ckpt, path


def trained_source(trained: dict, target):
    """The ``dataset.sources`` entry of the checkpoint's run whose target is ``target`` (the first), or None; its
    ``labels`` become the family's label mode that holds the taxonomy's classes (``classes`` where the family has
    it and the taxonomy is the 19 Cityscapes classes), so the scoring needs no mapping where none is due."""
    for entry in trained.get("sources") or []:
        if entry.get("target") == target:
            family = FAMILIES.get(target)
            if in_cityscapes19(trained) and "classes" in family.label_modes:
                return {**entry, "labels": "classes"}
            return entry
    return None


def other_family_dataset(trained: dict, target) -> dict:
    """The dataset keys of an eval on another family than the checkpoint's: what the model's input needs (the
    training crop, which sliding windows take) and the checkpoint's label mode where ``target`` has it too; the
    user's file and ``--set`` give the rest (the other family's defaults otherwise). A dataset.sources run scored on
    another family takes ``classes`` where its classes are the 19 Cityscapes ones and the family has that mode."""
    dataset = {key: trained[key] for key in ("crop_size",) if key in trained}
    family = FAMILIES.get(target)
    mode = trained.get("labels")
    if trained.get("sources"):  # the run's top-level label mode was never read; its classes are the taxonomy's
        mode = "classes" if in_cityscapes19(trained) else None
    if family is not None and isinstance(mode, str) and mode in family.label_modes:
        dataset["labels"] = mode
    return dataset


def other_family_keys(values: dict, target) -> dict:
    """The dataset keys of the user's file for an eval on another family than the checkpoint's: all of them, but a
    ``labels`` that is not one of that family's modes and the keys only other families read (a training recipe's
    ``labels: classes`` or ``val_cities`` for a Vistas eval), which would stop it."""
    family = FAMILIES.get(target)
    if family is None:
        return values
    readers = {f.name: f.metadata.get("read_by") for f in dataclasses.fields(DatasetConfig)}
    keep = {}
    for key, value in values.items():
        if key == "labels" and isinstance(value, str) and value not in family.label_modes:
            continue
        if readers.get(key) and target not in readers[key]:
            continue
        keep[key] = value
    return keep


def _user_keys(section: str, values: dict) -> dict:
    """The keys of one section of the user's file that eval takes over the checkpoint's; an unknown key passes
    through, so that config_from_dict names the closest valid one."""
    return {k: v for k, v in values.items() if f"{section}.{k}" in USER_KEYS or f"{section}.{k}" not in SCHEMA_KEYS}
