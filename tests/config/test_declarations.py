"""Config roles are read from the schema's declarations: resume, the families' key check, eval's merge, validation."""

import dataclasses

import pytest
import torch
import yaml

from utils.config.declare import declared_keys
from utils.config.errors import UserError
from utils.config.loading import config_from_dict, config_to_dict
from utils.config.schema import Config, DatasetConfig, ModelConfig
from utils.data.families import dataset_family
from utils.evaluation.setup import merged_config
from utils.training.resume import MUST_MATCH


def test_every_model_key_says_whether_resume_may_change_it():
    undeclared = [f.name for f in dataclasses.fields(ModelConfig) if f.metadata["on_resume"] is None]
    assert not undeclared, f"declare on_resume='match' or 'free' for model.{undeclared}"


def test_resume_compares_exactly_the_keys_declared_to_match():
    assert set(MUST_MATCH) == {k for k, _ in declared_keys(Config, on_resume="match")}
    assert {"target", "dataset.labels", "model.arch", "training.optimizer"} <= set(MUST_MATCH)
    assert not {"model.encoder_weights", "model.dropout", "training.lr", "training.epochs"} & set(MUST_MATCH)


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, float):
        return round(value / 2, 3)
    return ["frankfurt"]


@pytest.mark.parametrize("key", [f.name for f in dataclasses.fields(DatasetConfig) if f.metadata["read_by"]])
def test_a_dataset_key_is_refused_by_families_that_do_not_read_it(tmp_path, key):
    field = next(f for f in dataclasses.fields(DatasetConfig) if f.name == key)
    value = _changed(getattr(DatasetConfig(), key))
    other = next(t for t in ("bdd100k", "folder") if t not in field.metadata["read_by"])
    override = f"dataset.{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
    with pytest.raises(UserError, match=rf"'dataset.{key}' is .*but only target {field.metadata['read_by'][0]}"):
        dataset_family(config_from_dict({}, [f"target={other}", f"paths.root={tmp_path}", override]))
    reader = field.metadata["read_by"][0]
    assert dataset_family(config_from_dict({}, [f"target={reader}", f"paths.root={tmp_path}", override])).name == reader


def test_eval_takes_the_users_keys_declared_in_eval_and_the_checkpoints_others(tmp_path):
    trained = config_from_dict({}, ["model.encoder=resnet18", "training.epochs=3", "dataset.size=[64,128]"])
    path = tmp_path / "best.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "config": config_to_dict(trained)}, path)
    user = {
        "paths": {"root": str(tmp_path / "data")},
        "dataset": {"cache": False, "hflip": False, "size": [32, 32]},
        "model": {"encoder": "resnet50"},
        "training": {"epochs": 99},
        "eval": {"tta": "hflip"},
    }
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(user))
    cfg, _, _ = merged_config(tmp_path / "eval.yaml", str(path), [])
    assert cfg.paths.root == str(tmp_path / "data") and cfg.eval.tta == "hflip" and cfg.dataset.cache is False
    assert cfg.dataset.hflip is True and cfg.model.encoder == "resnet18" and cfg.training.epochs == 3
    assert cfg.dataset.size == [64, 128]  # the checkpoint's training scale
    user["eval"] = {"ttta": "hflip"}  # a typo is named, not dropped
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(user))
    with pytest.raises(UserError, match=r"Unknown config key 'eval.ttta'.*Did you mean 'tta'"):
        merged_config(tmp_path / "eval.yaml", str(path), [])


def test_a_declared_rule_is_checked_in_every_stage_entry():
    with pytest.raises(
        UserError, match=r"^Config key 'training.stages\[1\].lr' is -1.0; it must be positive \(or null\)\.$"
    ):
        config_from_dict({"training": {"stages": [{"epochs": 1}, {"epochs": 1, "lr": -1}]}})
    with pytest.raises(
        UserError, match=r"^Config key 'dataset.crop_size' is \[16, 64\]; it must be \[H, W\] with both"
    ):
        config_from_dict({"dataset": {"crop_size": [16, 64]}})
