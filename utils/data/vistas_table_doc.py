"""docs/datasets.md's table of Vistas classes in the 19 Cityscapes classes, generated from
utils/data/families/vistas_to_cityscapes.py: ``python -m utils.data.vistas_table_doc`` prints it, ``--write`` rewrites
it between the page's two markers (tests/test_readme.py checks that the page holds what this writes)."""

import argparse
import sys
from pathlib import Path

from utils.data.families.vistas_to_cityscapes import VISTAS_TO_CITYSCAPES, VISTAS_V12, VISTAS_V20

PAGE = Path(__file__).resolve().parents[2] / "docs" / "datasets.md"
START, END = "<!-- vistas-to-cityscapes: start -->", "<!-- vistas-to-cityscapes: end -->"


def markdown_table() -> str:
    """The table as docs/datasets.md holds it: one row per Vistas name, in v2.0's order then v1.2's own names."""
    v12, v20 = set(VISTAS_V12), set(VISTAS_V20)
    rows = ["| Vistas class | in | Cityscapes class | why |", "|---|---|---|---|"]
    for name in VISTAS_V20 + tuple(n for n in VISTAS_V12 if n not in v20):
        target, why = VISTAS_TO_CITYSCAPES[name]
        versions = " and ".join(v for v, names in (("v1.2", v12), ("v2.0", v20)) if name in names)
        rows.append(f"| `{name}` | {versions} | {target or 'ignored'} | {why} |")
    return "\n".join(rows) + "\n"


def page_with_table(text: str) -> str:
    """``text`` (docs/datasets.md) with the generated table between its two markers."""
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{markdown_table()}{END}{rest.split(END, 1)[1]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Print the Vistas -> Cityscapes table, or write it into the docs.")
    parser.add_argument("--write", action="store_true", help=f"rewrite the table in {PAGE}")
    args = parser.parse_args(argv)
    if args.write:
        PAGE.write_text(page_with_table(PAGE.read_text()))
    else:
        sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
