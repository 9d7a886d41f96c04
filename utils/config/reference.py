"""The configuration reference, docs/configuration.md, generated from the schema.

python -m utils.config.reference            prints it
python -m utils.config.reference --write    rewrites docs/configuration.md (a test checks it is current)
"""

import dataclasses
import sys
import typing
from pathlib import Path

from utils.config.loading import _describe
from utils.config.schema import Config, StageConfig

PIPE = "\\|"  # a literal | inside a markdown table cell


def _default(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def reference() -> str:
    lines = []
    for section in dataclasses.fields(Config):
        if not dataclasses.is_dataclass(section.type):
            lines += [f"## `{section.name}`", "", "| key | default | allowed | meaning |", "|---|---|---|---|"]
            allowed = _describe(section.type).replace("|", PIPE)
            lines.append(
                f"| `{section.name}` | `{_default(section.default)}` | {allowed} | "
                f"{section.metadata['help'].replace('|', PIPE)} |"
            )
            lines.append("")
            continue
        lines += [f"## `{section.name}`", "", "| key | default | allowed | meaning |", "|---|---|---|---|"]
        hints = typing.get_type_hints(section.type)
        for f in dataclasses.fields(section.type):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            allowed = "a list of stages (below)" if hints[f.name] == list[StageConfig] else _describe(hints[f.name])
            allowed = allowed.replace("|", PIPE)
            lines.append(
                f"| `{section.name}.{f.name}` | `{_default(default)}` | {allowed} | "
                f"{f.metadata['help'].replace('|', PIPE)} |"
            )
        lines.append("")
    lines += ["Each entry of `training.stages`:", "", "| key | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(StageConfig):
        lines.append(f"| `{f.name}` | `{_default(f.default)}` | {f.metadata['help'].replace('|', PIPE)} |")
    return "\n".join(lines) + "\n"


INTRO = (
    "# Configuration reference\n\n"
    "Every key, its default and meaning, generated from `utils/config/schema.py` by `python -m utils.config.reference "
    "--write`.\n"
    "Unknown keys are errors that name the closest valid key; `--set section.key=value` overrides any key from the "
    "command line.\n\n"
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
