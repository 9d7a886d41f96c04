"""The run folder's lock, with real processes: a live training keeps a second one out, a dead one's lock is taken over."""

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ROOT, copy_run, tiny_overrides

import eval as eval_script
import train
from utils.checkpoint import load_checkpoint
from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.runtime import get_logger, setup_console_logging
from utils.training.run_lock import LOCK_NAME, RunLock, stale_reason, this_process


def argv_for(sample_root, out, *extra, resume=False):
    return ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *extra)] + (
        ["--resume"] if resume else []
    )


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def start_training(sample_root, out, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "train.py", *argv_for(sample_root, out, *extra)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.01)


def write_lock(folder: Path, **holder) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({**this_process(), **holder}))
    return folder / LOCK_NAME


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def log_text(caplog):
    """What the toolkit's logger wrote (it does not propagate to pytest's root handler)."""
    setup_console_logging()  # first: the logger makes its console handler only while it has no handler
    get_logger().addHandler(caplog.handler)
    yield lambda: caplog.text
    get_logger().removeHandler(caplog.handler)


def error_lines(capsys) -> list:
    return capsys.readouterr().err.strip().splitlines()


def test_a_second_training_on_a_busy_folder_stops_in_one_line_and_the_first_finishes(sample_root, tmp_path, capsys):
    out = tmp_path / "run"
    first = start_training(sample_root, out, "training.epochs=2")
    wait_for(out / LOCK_NAME, first)
    os.kill(first.pid, signal.SIGSTOP)  # held while the second start is tried: the folder cannot change under us
    try:
        before = snapshot(out)
        for resume in (False, True):
            assert train.run_main(train.main, argv_for(sample_root, out, resume=resume)) == EXIT_USER_ERROR
            lines = error_lines(capsys)
            assert len(lines) == 1, lines
            since = (
                re.escape(
                    f"error: Run folder '{out}' is in use by pid {first.pid} on host {socket.gethostname()} since "
                )
                + r"\d\d:\d\d "
                + re.escape(f"({out / LOCK_NAME})")
            )
            assert re.match(since, lines[0]), lines[0]
            assert snapshot(out) == before
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err[-2000:]
    assert (
        load_checkpoint(out / "last.pth")["global_step"] == 4
        and len(json.loads((out / "metrics.json").read_text())) == 2
    )
    assert not (out / LOCK_NAME).exists()


def test_a_stale_lock_on_this_host_is_taken_over_with_a_warning(sample_root, tmp_path, log_text):
    out = tmp_path / "run"
    pid = dead_pid()
    write_lock(out, pid=pid, started="2024-05-01T14:02:00+00:00")
    assert train.main(argv_for(sample_root, out)) == 0
    assert f"warning: took over the lock of pid {pid} on host {socket.gethostname()} (since 2024-05-01 " in log_text()
    assert (out / "last.pth").is_file() and not (out / LOCK_NAME).exists()


def test_a_lock_from_another_host_says_how_to_remove_it(sample_root, tmp_path, capsys):
    out = tmp_path / "run"
    today = datetime.now().astimezone().replace(hour=14, minute=2).isoformat(timespec="seconds")
    lock = write_lock(out, host="gpu-07", pid=4242, started=today)
    before = snapshot(out)
    assert train.run_main(train.main, argv_for(sample_root, out)) == EXIT_USER_ERROR
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(
        f"error: Run folder '{out}' is in use by pid 4242 on host gpu-07 since 14:02 ({lock}). "
    )
    assert lines[0].endswith(f"remove the lock and run again: rm {lock}")
    assert snapshot(out) == before
    # Following the advice works.
    lock.unlink()
    assert train.main(argv_for(sample_root, out)) == 0


def test_a_requeued_slurm_job_takes_over_its_earlier_runs_lock_on_any_host(tmp_path, monkeypatch):
    holder = {**this_process(), "host": "gpu-07", "pid": 4242, "slurm_job_id": "777", "slurm_restart_count": 0}
    assert stale_reason(holder) is None  # another host, no SLURM job here: it may be alive
    monkeypatch.setenv("SLURM_JOB_ID", "777")
    assert stale_reason(holder) is None  # the same job, not requeued: another step of it may train there
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert "requeued job 777" in stale_reason(holder)
    write_lock(tmp_path, **holder)
    lock = RunLock(tmp_path).acquire(logging.getLogger("test"))
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    mine = os.getpid()
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    monkeypatch.setattr(os, "getpid", lambda: 1)  # another process of this host, of the same job
    with pytest.raises(UserError, match=f"in use by pid {mine}"):
        RunLock(tmp_path).acquire(logging.getLogger("test"))
    monkeypatch.undo()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize(
    "failure", [UserError("a problem the user can fix"), KeyboardInterrupt()], ids=["user_error", "ctrl_c"]
)
def test_the_lock_is_removed_when_training_fails(sample_root, tmp_path, monkeypatch, failure):
    out = tmp_path / "run"
    seen = {}

    def fail(*args, **kwargs):
        seen["locked"] = (out / LOCK_NAME).is_file()
        raise failure

    monkeypatch.setattr(train, "build_training_parts", fail)
    assert train.run_main(train.main, argv_for(sample_root, out)) in (EXIT_USER_ERROR, 130)
    assert seen["locked"] and not (out / LOCK_NAME).exists()


def test_sigterm_removes_the_lock(sample_root, tmp_path):
    out = tmp_path / "run"
    proc = start_training(sample_root, out, "training.epochs=50")
    wait_for(out / "config.yaml", proc)  # training has started
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-2000:]
    assert not (out / LOCK_NAME).exists()


def test_a_sigkilled_training_resumes(sample_root, tmp_path, log_text):
    out = tmp_path / "run"
    proc = start_training(sample_root, out, "training.epochs=50", "training.checkpoint_every_iters=1")
    wait_for(out / "last.pth", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert (out / LOCK_NAME).is_file()  # nothing could remove it
    step = load_checkpoint(out / "last.pth")["global_step"]
    epochs = step // 2 + 1  # two steps an epoch: one more epoch than last.pth started
    assert train.main(argv_for(sample_root, out, f"training.epochs={epochs}", resume=True)) == 0
    assert f"warning: took over the lock of pid {proc.pid} on host {socket.gethostname()}" in log_text()
    assert load_checkpoint(out / "last.pth")["global_step"] == 2 * epochs and not (out / LOCK_NAME).exists()


def test_eval_reads_a_locked_run_folder(tiny_run, sample_root, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")  # argv_for's run, finished
    lock = write_lock(run, pid=os.getppid())  # a live training of this host holds it
    before = lock.read_bytes()
    argv = [
        "--config_path",
        "configs/quickstart.yaml",
        "--set",
        f"paths.root={sample_root / 'cityscapes'}",
        f"paths.output_dir={run}",
        "eval.num_workers=0",
        "eval.device=cpu",
        "eval.max_images=1",
    ]
    assert eval_script.main(argv) == 0
    assert (run / "eval" / "metrics.json").is_file() and lock.read_bytes() == before
