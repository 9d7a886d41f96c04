"""model.json's format_version: today's and older sidecars read, a newer one stops with one line naming it."""

import json

import pytest

from utils.config.errors import UserError
from utils.deployment.sidecar import FORMAT_VERSION, read_sidecar


def write(tmp_path, **extra):
    content = {"classes": ["road", "rest"], "output": {"kind": "logits"}, **extra}
    (tmp_path / "model.json").write_text(json.dumps(content))
    return tmp_path / "model.onnx"


def test_a_sidecar_of_this_version_or_without_one_is_read(tmp_path):
    assert read_sidecar(write(tmp_path, format_version=FORMAT_VERSION))["classes"] == ["road", "rest"]
    assert read_sidecar(write(tmp_path))["classes"] == ["road", "rest"]


def test_a_newer_sidecar_names_its_version_in_one_line(tmp_path):
    with pytest.raises(UserError) as caught:
        read_sidecar(write(tmp_path, format_version=99))
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "model.json") in message
    assert f"format_version 99, written by a newer version of this toolkit; this one reads up to {FORMAT_VERSION}" in (
        message
    )
