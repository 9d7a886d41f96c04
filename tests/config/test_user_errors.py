"""Every input mistake ends in one clear line and a non-zero exit; --debug adds the traceback for bug reports."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from conftest import ROOT

import eval as eval_script
import train
from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.config.loading import load_config


def test_config_files_that_cannot_be_used(tmp_path):
    with pytest.raises(UserError, match="is a directory, not a YAML file"):
        load_config(tmp_path)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(UserError, match="is empty"):
        load_config(empty)
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("training:\n  device: cpu  # caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="is not UTF-8 text"):
        load_config(latin)
    broken = tmp_path / "broken.yaml"
    broken.write_text("training:\n  epochs: 3\n  lr: [unclosed\n")
    with pytest.raises(UserError, match=r"broken.yaml' is not valid YAML at line \d+, column \d+") as err:
        load_config(broken)
    assert "<unicode string>" not in str(err.value)


def test_errors_from_set_are_not_blamed_on_the_file(tmp_path):
    with pytest.raises(UserError) as err:
        load_config(ROOT / "configs" / "quickstart.yaml", ["training.epochs=many"])
    assert str(err.value).startswith("--set: ") and "quickstart.yaml" not in str(err.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  epochs: many\n")
    with pytest.raises(UserError, match=r"^.*bad.yaml: Config key 'training.epochs'"):
        load_config(bad, ["training.lr=0.1"])


def test_eval_on_weights_without_a_config(tiny_run, tmp_path, sample_root, capsys):
    bare = tmp_path / "weights.pth"
    torch.save({"model": torch.load(tiny_run / "best.pth", weights_only=True)["model"]}, bare)
    common = [
        "--set",
        f"paths.root={sample_root / 'cityscapes'}",
        f"eval.output_dir={tmp_path / 'eval'}",
        "eval.num_workers=0",
        "eval.device=cpu",
        "eval.official=false",
    ]
    assert eval_script.run_main(eval_script.main, ["--checkpoint", str(bare), *common]) == EXIT_USER_ERROR
    assert "holds weights only" in capsys.readouterr().err
    # The training config describes the model: then the weights evaluate like the full checkpoint.
    assert eval_script.main(["--checkpoint", str(bare), "--config_path", str(tiny_run / "config.yaml"), *common]) == 0
    assert (tmp_path / "eval" / "metrics.json").is_file()


def test_eval_output_dir_that_cannot_be_created(tiny_run, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = [
        "--checkpoint",
        str(tiny_run / "best.pth"),
        "--set",
        f"eval.output_dir={blocker / 'eval'}",
        "eval.device=cpu",
    ]
    assert eval_script.run_main(eval_script.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "eval.output_dir" in err and str(blocker / "eval") in err and "Traceback" not in err


def test_a_worker_error_reads_like_the_main_process_error(tiny_run, tmp_path, capfd):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((64, 128, 3), np.uint8))
    (folder / "b.png").write_bytes(b"")  # a 0-byte frame
    errors = {}
    for workers in (0, 1):
        argv = [
            "--checkpoint",
            str(tiny_run / "best.pth"),
            "--set",
            f"eval.input={folder}",
            f"eval.output_dir={tmp_path / 'out'}",
            "eval.device=cpu",
            f"eval.num_workers={workers}",
        ]
        # In this process, as eval.py's __main__ runs it; capfd also holds what the forked worker writes to fd 2.
        proc = SimpleNamespace(returncode=eval_script.run_main(eval_script.main, argv), stderr=capfd.readouterr().err)
        assert proc.returncode == EXIT_USER_ERROR, proc.stderr[-2000:]
        errors[workers] = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert "Traceback" not in proc.stderr and "DataLoader worker" not in proc.stderr
    assert errors[0] == errors[1] and len(errors[0]) == 1 and "b.png" in errors[0][0]


def test_debug_prints_the_traceback(tmp_path, capsys):
    argv = ["--config_path", str(tmp_path / "missing.yaml"), "--debug"]
    assert train.run_main(train.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "does not exist" in err
    assert train.run_main(train.main, argv[:2]) == EXIT_USER_ERROR
    assert "Traceback" not in capsys.readouterr().err
