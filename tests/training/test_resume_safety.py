"""--resume never damages the run it resumes, and the run's own config.yaml is always enough to resume it."""

from dataclasses import fields

import pytest
import yaml
from conftest import copy_run, tiny_overrides

import train
from utils.checkpoint import load_checkpoint
from utils.config.errors import EXIT_USER_ERROR
from utils.config.schema import ModelConfig
from utils.training.resume import config_differences


def argv_for(sample_root, out, *extra, config="configs/quickstart.yaml", resume=False):
    argv = ["--config_path", config, "--set", *tiny_overrides(sample_root, out, *extra)]
    return argv + (["--resume"] if resume else [])


def snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tiny_run, tmp_path_factory):
    """The tiny run (argv_for's, finished), copied: these tests try to write into it and check that nothing was."""
    return copy_run(tiny_run, tmp_path_factory.mktemp("finished") / "run")


@pytest.mark.parametrize("change", ["model.arch=unet", "dataset.labels=road", "training.optimizer=sgd"])
def test_a_mismatched_resume_changes_nothing_and_its_advice_works(finished_run, sample_root, tmp_path, capsys, change):
    run = tmp_path / "run"
    run.mkdir()
    for name, data in snapshot(finished_run).items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(data)
    own = yaml.safe_load((run / "config.yaml").read_text())
    own["paths"]["output_dir"] = str(run)  # the copy's config.yaml describes the copy
    (run / "config.yaml").write_text(yaml.safe_dump(own, sort_keys=False))
    before = snapshot(run)
    code = train.run_main(train.main, argv_for(sample_root, run, change, "training.epochs=2", resume=True))
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and "Traceback" not in err
    key = change.split("=")[0]
    assert f"{key} is" in err and "Nothing in the run folder was changed" in err
    assert snapshot(run) == before  # config.yaml, train.log, tensorboard events, checkpoints: byte for byte
    # The advice names the run's own config.yaml; following it (training longer) works.
    assert f"--config_path {run / 'config.yaml'} --resume" in err
    assert train.main(["--config_path", str(run / "config.yaml"), "--resume", "--set", "training.epochs=2"]) == 0
    assert load_checkpoint(run / "last.pth")["global_step"] == 4


def test_resume_without_a_run_and_a_fresh_start_on_a_run_write_nothing(finished_run, sample_root, tmp_path, capsys):
    empty = tmp_path / "empty"
    assert train.run_main(train.main, argv_for(sample_root, empty, resume=True)) == EXIT_USER_ERROR
    assert "found no" in capsys.readouterr().err and not empty.exists()
    before = snapshot(finished_run)
    assert train.run_main(train.main, argv_for(sample_root, finished_run)) == EXIT_USER_ERROR
    assert "already holds a run" in capsys.readouterr().err and snapshot(finished_run) == before


def test_resume_with_the_runs_own_config_yaml(sample_root, tmp_path):
    out = tmp_path / "own"
    assert train.main(argv_for(sample_root, out, "training.epochs=2", "training.iters_per_epoch=1")) == 0
    # A later, compatible resume rewrites config.yaml only together with its first last.pth.
    assert train.main(["--config_path", str(out / "config.yaml"), "--resume", "--set", "training.epochs=3"]) == 0
    ckpt = load_checkpoint(out / "last.pth")
    assert ckpt["global_step"] == 3 and ckpt["epoch"] == 3
    assert "epochs: 3" in (out / "config.yaml").read_text()


def test_resume_ignores_a_missing_init_from(tiny_run, sample_root, tmp_path):
    source = copy_run(tiny_run, tmp_path / "source")  # argv_for's run, finished
    out = tmp_path / "transfer"
    init = f"training.init_from={source / 'last.pth'}"
    assert train.main(argv_for(sample_root, out, init, "training.epochs=1")) == 0
    (source / "last.pth").unlink()  # last.pth of the resumed run holds the weights now
    assert train.main(argv_for(sample_root, out, init, "training.epochs=2", resume=True)) == 0


def test_advice_for_list_values_is_one_shell_word_each(finished_run, sample_root, tmp_path, capsys):
    from utils.training.resume import _flow

    assert (
        _flow(["road", "sidewalk"]) == "[road,sidewalk]" and _flow([256, 128]) == "[256,128]" and _flow(None) == "null"
    )
    run = tmp_path / "moved"
    run.mkdir()
    (run / "last.pth").write_bytes((finished_run / "last.pth").read_bytes())
    (run / "config.yaml").write_bytes((finished_run / "config.yaml").read_bytes())  # still names the old folder
    assert (
        train.run_main(train.main, argv_for(sample_root, run, "dataset.labels=[road,sidewalk]", resume=True))
        == EXIT_USER_ERROR
    )
    err = capsys.readouterr().err
    # The run was moved: its own config.yaml still points at the old folder, so the advice names the new one.
    assert f"--config_path {run / 'config.yaml'} --resume --set paths.output_dir={run}" in err


# A value other than the quickstart run's for every model key that decides the architecture.
ARCHITECTURE_CHANGES = {
    "arch": "unet",
    "encoder": "resnet34",
    "fpn_merge": "cat",
    "fpn_pyramid_channels": "128",
    "fpn_segmentation_channels": "64",
    "unet_preset": "original",
    "unet_decoder_channels": "[128,64,32,16,8]",
    "unet_num_filters": "16",
    "unet_res_blocks": "true",
    "deeplabv3plus_output_stride": "8",
    "deeplabv3plus_decoder_channels": "128",
    "deeplabv3plus_atrous_rates": "[6,12,18]",
    "deeplabv3plus_aspp_separable": "false",
    "deeplabv3plus_aux_weight": "0.4",
    "upernet_decoder_channels": "128",
    "upernet_aux_weight": "0.4",
    "segformer_decoder_channels": "128",
    "pidnet_size": "m",
}


@pytest.mark.parametrize("name", [f.name for f in fields(ModelConfig) if f.metadata["on_resume"] == "match"])
def test_every_architecture_key_is_checked_on_resume(finished_run, sample_root, capsys, name):
    """A new ModelConfig field is checked without being listed anywhere: it must be given a changed value here."""
    if name not in ARCHITECTURE_CHANGES:
        pytest.fail(f"add a changed value of model.{name} to ARCHITECTURE_CHANGES")
    before = snapshot(finished_run)
    code = train.run_main(
        train.main, argv_for(sample_root, finished_run, f"model.{name}={ARCHITECTURE_CHANGES[name]}", resume=True)
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR and len(err.splitlines()) == 1
    assert (
        err.startswith(f"error: Cannot resume '{finished_run}': model.{name} is ")
        and "Nothing in the run folder was changed" in err
    )
    assert snapshot(finished_run) == before


def test_dropout_and_encoder_weights_may_change_on_resume():
    saved = {"model": {"arch": "fpn", "dropout": 0.2, "encoder_weights": "imagenet"}}
    assert (
        config_differences(
            saved, {"model": {"arch": "fpn", "dropout": 0.0, "encoder_weights": "/weights/resnet18.pth"}}
        )
        == []
    )
    assert config_differences(saved, {"model": {"arch": "unet", "dropout": 0.2, "encoder_weights": "imagenet"}}) == [
        ("model.arch", "fpn", "unet")
    ]
