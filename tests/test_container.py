"""The container files, checked without a container engine: the build context stays small, the default command is the quickstart."""

import fnmatch
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ignored(relative: str, patterns: list) -> bool:
    """Docker's matching for the patterns .dockerignore uses: a top-level name (or glob), or ``**/name`` at any depth."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif fnmatch.fnmatch(parts[0], pattern) or fnmatch.fnmatch(relative, pattern):
            return True
    return False


def test_the_build_context_leaves_out_the_virtualenv_data_and_runs(tmp_path):
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns)  # no exceptions, which the matcher here does not model
    for path in (
        ".venv/lib/python3.11/site-packages/torch/lib/libtorch_cuda.so",
        "data/sample/cityscapes/x.png",
        "runs/quickstart/best.pth",
        ".git/objects/ab/cd",
        "utils/__pycache__/x.pyc",
        "deploy/model.onnx",
    ):
        assert ignored(path, patterns), path
    sent = [p for p in ROOT.rglob("*") if p.is_file() and not ignored(p.relative_to(ROOT).as_posix(), patterns)]
    assert all(
        not ignored(p, patterns)
        for p in (
            "train.py",
            "utils/data/families/vistas.py",
            "configs/quickstart.yaml",
            "requirements.txt",
            "imgs/quickstart_examples.png",
        )
    )
    assert sum(p.stat().st_size for p in sent) < 30 * 2**20, "the build context would be over 30 MB"


def test_the_image_runs_the_readmes_quickstart_by_default():
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"```bash\n(python3 -m venv .*?)\n```", readme).group(1)
    quickstart = first.split("pip install -r requirements.txt && ", 1)[1]
    cmd = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")][-1]
    assert json.loads(cmd[4:]) == ["sh", "-c", quickstart]
