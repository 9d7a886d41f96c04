"""The folder layout is part of the design: stage packages import shared leaves, never each other."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"


def imported_modules(path: Path) -> set:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_at_most_eight_modules_directly_in_utils():
    modules = sorted(p.name for p in UTILS.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 8, modules


def test_training_and_evaluation_never_import_each_other():
    for package, forbidden in (("training", "utils.evaluation"), ("evaluation", "utils.training")):
        for path in (UTILS / package).glob("*.py"):
            bad = {m for m in imported_modules(path) if m == forbidden or m.startswith(forbidden + ".")}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_shared_leaves_import_no_stage_package():
    stages = ("utils.training", "utils.evaluation", "utils.painting", "utils.deployment")
    for path in UTILS.glob("*.py"):
        bad = {m for m in imported_modules(path) if m.startswith(stages)}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_every_subpackage_says_what_lives_there():
    for package in sorted(p.parent.name for p in UTILS.glob("*/__init__.py")):
        init = UTILS / package / "__init__.py"
        assert init.is_file() and ast.get_docstring(ast.parse(init.read_text())), package
