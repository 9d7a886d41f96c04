"""How a config key is declared: its default, its help, and the roles every other module reads from the declaration.

A key's roles are written once, beside its default, with :func:`opt`:

- ``on_resume``: ``"match"`` when ``--resume`` must find last.pth's value (the model, the classes, the optimizer),
  ``"free"`` when it may change (epochs, the lr, paths); left out, it may change too, but every model key
  says which it is (a test checks that), so a new architecture key cannot slip past the resume check;
- ``read_by``: the dataset families that read a dataset key; with any other family a value other than the
  default is refused;
- ``in_eval``: ``"user"`` when eval.py takes the key from the user's config file over the checkpoint's
  (paths, eval, paint, where the data lies), ``"checkpoint"`` when the checkpoint's training config decides;
- ``rule``: the allowed values beyond the type, as a :class:`Rule` whose sentence the error quotes.

Resume (:mod:`utils.training.resume`), the families' key check (:mod:`utils.data.families.base`), eval's config
merge (:mod:`utils.evaluation.setup`) and validation (:mod:`utils.config.loading`) all ask :func:`declared_keys`.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional, Union


@dataclass(frozen=True)
class Rule:
    """Values a key allows beyond its type: ``ok(value)``, and the sentence an error ends with ("it <text>.")."""

    ok: Callable
    text: str


def at_least(n) -> Rule:
    return Rule(lambda v: v >= n, f"must be at least {n}")


def positive() -> Rule:
    return Rule(lambda v: v > 0, "must be positive")


def not_negative() -> Rule:
    return Rule(lambda v: v >= 0, "must not be negative")


def size_rule() -> Rule:
    """[H, W] with both at least 32 (null passes: the key then takes another key's size)."""
    return Rule(
        lambda v: v is None or (len(v) == 2 and min(v) >= 32), "must be [H, W] with both at least 32, e.g. [512, 1024]"
    )


def opt(
    default,
    help_text: str,
    *,
    on_resume: Optional[str] = None,
    read_by: Union[None, str, tuple] = None,
    in_eval: str = "checkpoint",
    rule: Optional[Rule] = None,
):
    """Declares a config key: its default, the one-line help of docs/configuration.md, and its roles (module doc)."""
    assert on_resume in (None, "match", "free") and in_eval in ("checkpoint", "user"), (on_resume, in_eval)
    metadata = {
        "help": help_text,
        "on_resume": on_resume,
        "read_by": (read_by,) if isinstance(read_by, str) else read_by,
        "in_eval": in_eval,
        "rule": rule,
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def declared_keys(config_cls, **roles) -> list:
    """``(dotted key, dataclasses.Field)`` of every key of ``config_cls`` whose declaration has all of ``roles``.

    Sections are walked in schema order; a top-level key (``target``) is its own dotted name. E.g.
    ``declared_keys(Config, on_resume="match")`` are the keys ``--resume`` compares with last.pth.
    """
    out = []
    for f in dataclasses.fields(config_cls):
        if dataclasses.is_dataclass(f.type):
            out += [(f"{f.name}.{key}", g) for key, g in declared_keys(f.type, **roles)]
        elif all(f.metadata.get(role) == value for role, value in roles.items()):
            out.append((f.name, f))
    return out
