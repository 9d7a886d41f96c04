"""Failed writes: one clear line naming the file and the OS reason, earlier checkpoints intact, no temporary file left.

These use real processes: a real file-size limit (ulimit -f), a real SIGKILL and a real SIGINT during a save.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, copy_run, tiny_overrides

import train
from utils.checkpoint import atomic_torch_save
from utils.config.errors import EXIT_USER_ERROR
from utils.files import TMP_MARK, atomic_write, remove_stale_temporaries
from utils.training.run_dir import RunDir


def temporaries(folder: Path) -> list:
    return [p.name for p in folder.rglob(f"*{TMP_MARK}*")]


def test_a_file_size_limit_during_a_save_is_one_clear_line(tiny_run, sample_root, tmp_path):
    out = copy_run(tiny_run, tmp_path / "run")  # the finished run of argv
    argv = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out)]
    last = (out / "last.pth").read_bytes()
    # Resume for a second epoch under a 2 MB file-size limit: the 50 MB checkpoint cannot be written.
    cmd = " ".join(["ulimit -f 2048;", sys.executable, "train.py", *argv, "training.epochs=2", "--resume"])
    proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == EXIT_USER_ERROR, proc.stderr[-2000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "File too large" in error[0] and ".pth'" in error[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "unexpected pos" not in proc.stderr
    assert (out / "last.pth").read_bytes() == last and not temporaries(out)


def test_an_unwritable_run_folder_is_found_before_any_work(tmp_path, sample_root, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the run folder should go")
    argv = ["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, blocker / "run")]
    assert train.run_main(train.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "Cannot create the run folder" in err and str(blocker / "run") in err and "Traceback" not in err


SAVER = """
import sys, time, torch
sys.path.insert(0, {root!r})
from utils.config.cli import run_main
from utils.checkpoint import atomic_torch_save

class Slow:
    def __reduce__(self):
        # Pickling the object takes long: the signal arrives mid-save. Short sleeps, so that a signal that came just
        # before a sleep began, or to another thread, raises within 0.05 s (one long sleep could run to its end).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return (int, (0,))

def main(argv):
    print("saving", flush=True)
    atomic_torch_save({{"model": {{"w": torch.zeros(1000)}}, "slow": Slow()}}, {path!r})

sys.exit(run_main(main, []))
"""


def start_saver(path: Path) -> subprocess.Popen:
    code = SAVER.format(root=str(ROOT), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "saving"
    deadline = time.time() + 60
    while not list(path.parent.glob(f".{path.name}{TMP_MARK}*")):
        assert time.time() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    return proc


def test_sigkill_during_a_save_keeps_the_old_file_and_the_next_start_cleans_up(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    atomic_torch_save({"model": {"w": torch.ones(3)}}, run / "last.pth")
    before = (run / "last.pth").read_bytes()
    proc = start_saver(run / "last.pth")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert temporaries(run) and (run / "last.pth").read_bytes() == before
    RunDir(run, tensorboard=False).close()  # the next start removes what the killed save left
    assert not temporaries(run)


def test_ctrl_c_during_a_save_removes_the_temporary_file(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = start_saver(run / "last.pth")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not temporaries(run) and not (run / "last.pth").exists()


def test_stale_temporaries_of_live_processes_are_kept(tmp_path):
    live = tmp_path / f".last.pth{TMP_MARK}{os.getppid()}"  # another live process may be saving right now
    dead = tmp_path / f".best.pth{TMP_MARK}999999999"
    mine = tmp_path / f".metrics.json{TMP_MARK}{os.getpid()}"  # a restarted container can reuse the killed saver's pid
    for path in (live, dead, mine):
        path.write_bytes(b"x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([dead.name, mine.name]) and live.exists()


def test_an_error_inside_a_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")

    def fail(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(Exception, match="No space left on device"):
        atomic_write(path, fail)
    assert path.read_text() == "old" and not temporaries(tmp_path)
