"""Whether a run may start, or continue, in its folder: decided before anything there is written.

A fresh run refuses a folder that already holds last.pth; ``--resume`` loads last.pth and checks it
against the config (the model, the classes, the optimizer, the stages), so a mistaken resume fails
while the run folder, its config.yaml included, is exactly as it was.
"""

import shlex
from pathlib import Path
from typing import Optional

import yaml

from utils.checkpoint import Checkpoint
from utils.config.declare import declared_keys
from utils.config.errors import UserError
from utils.config.loading import config_to_dict, load_config
from utils.config.schema import Config
from utils.data.families import FAMILIES

# Keys whose change makes last.pth meaningless for the new config (the model, the classes, the optimizer): those the
# schema declares on_resume="match". Every other key may change, e.g. epochs to train longer, or the lr.
MUST_MATCH = tuple(key for key, _ in declared_keys(Config, on_resume="match"))
_MISSING = object()


def _get(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _label_mode(tree: dict):
    """dataset.labels with null resolved to the family's default, so null and the default name one mode."""
    value, target = _get(tree, "dataset.labels"), _get(tree, "target")
    if value is None and target in FAMILIES:
        return FAMILIES[target].label_modes[0]
    return value


def config_differences(saved: dict, current: dict) -> list:
    """(key, value in last.pth, value now) for every MUST_MATCH key that differs."""
    out = []
    for key in MUST_MATCH:
        old, new = _get(saved, key), _get(current, key)
        if key == "dataset.labels" and old is not _MISSING:
            old, new = _label_mode(saved), _label_mode(current)
        if old is not _MISSING and old != new:
            out.append((key, old, new))
    return out


def _flow(value) -> str:
    """A value as --set takes it, without spaces: [road,sidewalk], null, true."""
    if isinstance(value, list):
        return "[" + ",".join(_flow(v) for v in value) + "]"
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _advice(run: Path, saved: dict, diffs: list) -> str:
    """Advice that works: the run's own config.yaml when it fits last.pth, else the --set overrides that restore it."""
    own = run / "config.yaml"
    try:
        own_cfg = load_config(own) if own.is_file() else None
    except UserError:
        own_cfg = None
    if own_cfg is not None and not config_differences(saved, config_to_dict(own_cfg)):
        moved = Path(own_cfg.paths.output_dir).resolve() != run.resolve()  # a run folder copied from elsewhere
        where = f" --set {shlex.quote(f'paths.output_dir={run}')}" if moved else ""
        return (
            f"Resume with the run's own config: python train.py --config_path {shlex.quote(str(own))} --resume{where}"
        )
    sets = " ".join(shlex.quote(f"{key}={_flow(old)}") for key, old, _ in diffs)
    return f"Resume with the config the run was trained with, e.g. add --set {sets}"


def prepare_run_folder(cfg, resume: bool) -> Optional[Checkpoint]:
    """Returns the verified last.pth (on the CPU) to continue from, or None for a fresh run; writes nothing."""
    run = Path(cfg.paths.output_dir)
    last = run / "last.pth"
    if not resume:
        if last.exists():
            raise UserError(
                f"'{run}' already holds a run (last.pth). Continue it with --resume, or choose a new paths.output_dir "
                "(--set paths.output_dir=...); nothing was overwritten."
            )
        return None
    if not last.is_file():
        raise UserError(
            f"--resume found no '{last}'. Start without --resume, or point paths.output_dir at the run to continue."
        )
    ckpt = Checkpoint.load(last)
    saved = ckpt.config
    if not ckpt.resumable:
        raise UserError(
            f"'{last}' holds weights but no training state (optimizer, stage, config), so it cannot be resumed. Start "
            f"a new run with training.init_from: {last}."
        )
    diffs = config_differences(saved, config_to_dict(cfg))
    if diffs:
        listed = "; ".join(f"{key} is {_flow(new)} here but {_flow(old)} in last.pth" for key, old, new in diffs)
        raise UserError(
            f"Cannot resume '{run}': {listed}. Nothing in the run folder was changed. {_advice(run, saved, diffs)}"
        )
    if cfg.unlabeled.enabled and ckpt.unlabeled is None:
        # A last.pth from before the unlabeled section has no unlabeled keys to compare: its run had none.
        raise UserError(
            f"Cannot resume '{run}' with unlabelled images (unlabeled.source / unlabeled.split): its last.pth was "
            "trained without them. Nothing in the run folder was changed. Resume with unlabeled.source: null and "
            f"unlabeled.split: null, or start a new run with training.init_from: {last}."
        )
    stages = len(cfg.training.stages) or 1
    if ckpt.progress.stage >= stages:
        raise UserError(
            f"'{last}' was written in stage {ckpt.progress.stage + 1}, but training.stages has {stages} now. Resume with "
            "the run's own config.yaml."
        )
    return ckpt
