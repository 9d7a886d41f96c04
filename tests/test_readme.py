"""The README and docs/ against the code: the generated configuration reference, pictures, links and the Python example."""

import re
from pathlib import Path

import pytest

from utils.config.reference import PAGE, page
from utils.data import vistas_table_doc

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_configuration_reference_is_generated_from_the_schema():
    assert PAGE.read_text() == page(), "docs/configuration.md is stale: run python -m utils.config.reference --write"


def test_the_vistas_table_in_the_docs_is_generated_from_the_module():
    text = vistas_table_doc.PAGE.read_text()
    assert "| `construction--barrier--curb` | v1.2 and v2.0 | sidewalk |" in text
    assert text == vistas_table_doc.page_with_table(text), (
        "docs/datasets.md's Vistas table is stale: run python -m utils.data.vistas_table_doc --write"
    )


def test_every_picture_and_relative_link_exists():
    for doc in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if not re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                assert (doc.parent / target).exists(), (
                    f"{doc.relative_to(ROOT)} links to {target}, which does not exist"
                )


def test_the_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    for doc in PAGES[1:]:
        assert f"(docs/{doc.name})" in readme, f"README does not link docs/{doc.name}"


@pytest.mark.parametrize("family_run", ["folder"], indirect=True)
def test_the_readmes_python_example_runs(family_run, sample_root):
    """The five lines of the README, run as written with the paths of a tiny trained checkpoint and the test sample."""
    _, run, _ = family_run
    readme = (ROOT / "README.md").read_text()
    code = re.search(
        r"```python\n(import cv2\nfrom utils.evaluation.predictor import Predictor\n.*?)```", readme, re.S
    ).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 5
    code = code.replace("runs/quickstart/best.pth", str(run / "best.pth")).replace('"data/sample/', f'"{sample_root}/')
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["classes"].shape == namespace["rgb"].shape[:2] and namespace["classes"].max() < len(
        namespace["predictor"].names
    )
