"""The folder layout is part of the design: an import graph without cycles, and stage packages that import shared
leaves, never each other. Every import statement counts, including those inside functions, and so do the package
inits that importing a submodule runs first."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"


def project_files() -> list:
    """Every module of utils/, models/ and the entry scripts."""
    return sorted([*UTILS.rglob("*.py"), *(ROOT / "models").rglob("*.py"), *ROOT.glob("*.py")])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set:
    """Dotted names a file imports (``from a import b`` gives ``a`` and ``a.b``), relative imports resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            names |= {base} | {f"{base}.{a.name}" for a in node.names}
    return names


def import_graph() -> dict:
    """module -> the project modules it imports (the longest known module each name starts with)."""
    modules = {module_name(p): p for p in project_files()}

    def resolve(name):
        parts = name.split(".")
        return next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in modules), None)

    def packages(target):
        """Importing ``a.b.c`` first runs the package inits ``a`` and ``a.b``: they are imported too."""
        parts = target.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts))} & set(modules)

    graph = {}
    for name, path in modules.items():
        targets = {resolve(n) for n in imported_names(path)} - {None, name}
        targets |= {p for t in targets for p in packages(t)}
        # A module's own packages are already being initialised when it runs: not a dependency.
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    return graph


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_data_never_imports_evaluation_or_sample_data():
    graph = import_graph()
    bad = {
        (m, t)
        for m, targets in graph.items()
        if m == "utils.data" or m.startswith("utils.data.")
        for t in targets
        if t.startswith(("utils.evaluation", "utils.sample_data"))
    }
    assert not bad, bad


def test_training_and_evaluation_never_import_each_other():
    for package, forbidden in (("utils.training", "utils.evaluation"), ("utils.evaluation", "utils.training")):
        bad = {
            (m, t)
            for m, targets in import_graph().items()
            if m.startswith(package)
            for t in targets
            if t.startswith(forbidden)
        }
        assert not bad, bad


def test_shared_leaves_import_no_stage_package():
    stages = ("utils.training", "utils.evaluation", "utils.painting", "utils.deployment", "utils.sample_data")
    leaves = {module_name(p) for p in UTILS.glob("*.py") if p.name != "__init__.py"}
    bad = {(m, t) for m, targets in import_graph().items() if m in leaves for t in targets if t.startswith(stages)}
    assert not bad, bad


def test_the_kitti_devkit_scorer_imports_neither_torch_nor_the_data_package():
    code = "import sys, utils.evaluation.kitti_devkit; print(sorted(m for m in ('torch', 'utils.data.families', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_subpackage_says_what_lives_there():
    for init in sorted(UTILS.rglob("__init__.py")):
        assert ast.get_docstring(ast.parse(init.read_text())), init.relative_to(ROOT)
