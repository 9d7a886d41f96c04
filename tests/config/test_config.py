import re
from pathlib import Path

import pytest

from utils.config.errors import UserError
from utils.config.loading import config_from_dict, load_config
from utils.config.schema import Config
from utils.data.families import dataset_family

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_build():
    cfg = config_from_dict({})
    assert cfg == Config()
    assert cfg.model.arch == "fpn" and cfg.dataset.size == [512, 1024]


def test_unknown_key_names_closest():
    with pytest.raises(UserError, match=r"Unknown config key 'training.epoch'.*Did you mean 'epochs'"):
        config_from_dict({"training": {"epoch": 3}})
    with pytest.raises(UserError, match=r"Unknown config key 'modle'.*Did you mean 'model'"):
        config_from_dict({"modle": {}})


def test_bad_value_names_key_and_allowed_values():
    with pytest.raises(UserError, match=r"'model.arch' has the value 'pspnet'; allowed: fpn \| unet"):
        config_from_dict({"model": {"arch": "pspnet"}})
    with pytest.raises(UserError, match=r"'training.batch_size' has the value 'eight'; allowed: int"):
        config_from_dict({"training": {"batch_size": "eight"}})
    with pytest.raises(UserError, match=r"'dataset.size'"):
        config_from_dict({"dataset": {"size": [512]}})
    with pytest.raises(UserError, match=r"'eval.slide_overlap'"):
        config_from_dict({"eval": {"slide_overlap": 0.99}})
    with pytest.raises(UserError, match=r"with target kitti it must be road or lane"):
        dataset_family(config_from_dict({"target": "kitti", "dataset": {"labels": "categories"}}))


def test_overrides_are_parsed_as_yaml():
    cfg = config_from_dict(
        {},
        [
            "training.epochs=3",
            "dataset.size=[64, 128]",
            "model.encoder_weights=null",
            "training.lr=1e-4",
            "dataset.labels=[road, car]",
        ],
    )
    assert cfg.training.epochs == 3 and cfg.dataset.size == [64, 128]
    assert cfg.model.encoder_weights is None and cfg.training.lr == pytest.approx(1e-4)
    assert cfg.dataset.labels == ["road", "car"]
    stages = config_from_dict(
        {}, ["training.stages=[{epochs: 1, size: [64, 128]}, {epochs: 2, lr: 0.0001}]"]
    ).training.stages
    assert [s.epochs for s in stages] == [1, 2] and stages[0].size == [64, 128] and stages[1].lr == pytest.approx(1e-4)


def test_bad_overrides():
    with pytest.raises(UserError, match=r"Did you mean 'batch_size'"):
        config_from_dict({}, ["training.batchsize=4"])
    with pytest.raises(UserError, match=r"must look like section.key=value"):
        config_from_dict({}, ["training.epochs"])
    with pytest.raises(UserError, match=r"Unknown config key 'training.stages\[0\].epoch'"):
        config_from_dict({}, ["training.stages=[{epoch: 1}]"])


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.parametrize(
    "path", [ROOT / "train_config.yaml", *sorted((ROOT / "configs").glob("*.yaml"))], ids=lambda p: p.name
)
def test_shipped_configs_load(path):
    load_config(path)


def test_every_key_in_train_config_has_a_comment():
    for line in (ROOT / "train_config.yaml").read_text().splitlines():
        if re.match(r"^\s*[a-z_]+:\s*[^\s#]", line):  # a key with a value (section headers excluded)
            assert "#" in line, f"train_config.yaml line without a comment: {line!r}"


@pytest.mark.parametrize(
    "override,key",
    [
        ("training.clip_grad_norm=-1", "training.clip_grad_norm"),
        ("model.dropout=1.5", "model.dropout"),
        ("model.fpn_segmentation_channels=100", "model.fpn_segmentation_channels"),
        ("model.unet_decoder_channels=[64,32]", "model.unet_decoder_channels"),
        ("training.stages=[{epochs: 1, batch_size: 0}]", "training.stages[0].batch_size"),
        ("training.plateau_factor=1.0", "training.plateau_factor"),
        ("eval.video_fps=0", "eval.video_fps"),
        ("training.ohem_thresh=0", "training.ohem_thresh"),
        ("training.ohem_thresh=1.5", "training.ohem_thresh"),
        ("training.ohem_min_kept=0", "training.ohem_min_kept"),
    ],
)
def test_out_of_range_values_are_rejected_up_front(override, key):
    with pytest.raises(UserError, match=re.escape(f"'{key}'")):
        config_from_dict({}, [override])
