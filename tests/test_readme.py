from pathlib import Path

from utils.config.reference import reference

ROOT = Path(__file__).resolve().parent.parent


def test_readme_documents_every_config_key():
    readme = (ROOT / "README.md").read_text()
    assert reference() in readme, "README's configuration reference is stale: paste `python -m utils.config.reference`"


def test_readme_pictures_exist():
    readme = (ROOT / "README.md").read_text()
    for line in readme.splitlines():
        if "](imgs/" in line:
            path = line.split("](", 1)[1].split(")", 1)[0]
            assert (ROOT / path).is_file(), path
