"""The configuration reference, docs/configuration.md, generated from the schema.

python -m utils.config.reference            prints it
python -m utils.config.reference --write    rewrites docs/configuration.md (a test checks it is current)
"""

import dataclasses
import sys
import typing
from pathlib import Path

from utils.config.loading import _describe
from utils.config.schema import Config, SourceConfig, StageConfig

PIPE = "\\|"  # a literal | inside a markdown table cell


def _default(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _roles(f) -> str:
    """The key's declared roles (utils/config/declare.py), as the reference's last column shows them."""
    roles = []
    if f.metadata.get("on_resume") == "match":
        roles.append("must match on `--resume`")
    if f.metadata.get("read_by"):
        roles.append(f"read by {' and '.join(f.metadata['read_by'])} only")
    if f.metadata.get("in_eval") == "user":
        roles.append("eval takes yours")
    return "; ".join(roles)


def _allowed(f, hint) -> str:
    entries = {list[StageConfig]: "a list of stages (below)", list[SourceConfig]: "a list of sources (below)"}
    allowed = entries.get(hint) or _describe(hint)
    rule = f.metadata.get("rule")
    return (allowed + (f"; {rule.text}" if rule else "")).replace("|", PIPE)


HEAD = ["| key | default | allowed | meaning | roles |", "|---|---|---|---|---|"]


def _row(key: str, f, hint) -> str:
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    meaning = f.metadata["help"].replace("|", PIPE)
    return f"| `{key}` | `{_default(default)}` | {_allowed(f, hint)} | {meaning} | {_roles(f)} |"


def reference() -> str:
    lines = []
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        lines += [f"## `{section.name}`", "", *HEAD]
        if not dataclasses.is_dataclass(section.type):
            lines += [_row(section.name, section, hints[section.name]), ""]
            continue
        section_hints = typing.get_type_hints(section.type)
        lines += [_row(f"{section.name}.{f.name}", f, section_hints[f.name]) for f in dataclasses.fields(section.type)]
        lines.append("")
    for key, entry in (("training.stages", StageConfig), ("dataset.sources", SourceConfig)):
        lines += [f"Each entry of `{key}`:", "", "| key | default | allowed | meaning |", "|---|---|---|---|"]
        entry_hints = typing.get_type_hints(entry)
        for f in dataclasses.fields(entry):
            lines.append(
                f"| `{f.name}` | `{_default(f.default)}` | {_allowed(f, entry_hints[f.name])} | "
                f"{f.metadata['help'].replace('|', PIPE)} |"
            )
        lines.append("")
    lines.pop()
    return "\n".join(lines) + "\n"


INTRO = (
    "# Configuration reference\n\n"
    "Every key, its default and meaning, generated from `utils/config/schema.py` by `python -m utils.config.reference "
    "--write`.\n"
    "Unknown keys are errors that name the closest valid key; `--set section.key=value` overrides any key from the "
    "command line.\n"
    "Roles: *must match on `--resume`* keys must equal last.pth's (the rest may change when a run continues); "
    "*read by X only* dataset keys are refused with another `target`; for *eval takes yours* keys, eval.py and "
    "paint_points.py use your config file's value, for the others the checkpoint's training config "
    "(`--set` overrides any key).\n\n"
)
PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def page() -> str:
    return INTRO + reference()


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        PAGE.write_text(page())
        print(f"wrote {PAGE}")
    else:
        print(page(), end="")
