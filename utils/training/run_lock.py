"""The run folder's lock: one training at a time writes a run folder, also from other hosts on shared storage.

Rank 0 holds ``<run>/.lock`` from before its first write to its end. The file is made complete in a
temporary file and published with ``link(2)``, which is atomic on NFS too (``man 2 open``: O_EXCL and
fcntl locks are not dependable there), so the lock never exists half-written. It names its holder: host,
pid, start time, and what tells a dead holder from a live one (the boot, the process's start, the SLURM job).

A lock whose holder is certainly gone (this host and no such process, this host rebooted, or an earlier
run of the same requeued SLURM job) is taken over with a warning; any other lock stops a second training
before it writes anything. eval.py, export.py and paint_points.py take no lock: they only read the run.
"""

import json
import os
import shlex
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

from utils.config.errors import UserError
from utils.distributed import all_gather_objects, is_main_process
from utils.files import TMP_MARK, ensure_writable_folder, pid_alive
from utils.training.resume import prepare_run_folder

LOCK_NAME = ".lock"


def _read(path: str) -> Optional[str]:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _process_start(pid: int) -> Optional[str]:
    """The process's start time in clock ticks since boot (Linux): a reused pid has another."""
    stat = _read(f"/proc/{pid}/stat")
    return stat.rsplit(")", 1)[-1].split()[19] if stat else None


def this_process() -> dict:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "process_start": _process_start(os.getpid()),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "slurm_restart_count": int(os.environ.get("SLURM_RESTART_COUNT", 0)),
        "command": " ".join(sys.argv),
    }


def read_holder(folder) -> Optional[dict]:
    """The lock's content; None when there is no lock; {} when it cannot be read (a file made by hand)."""
    try:
        holder = json.loads((Path(folder) / LOCK_NAME).read_text())
    except ValueError:
        return {}
    except OSError:
        return None  # no lock (or no folder); what else is wrong with the folder is reported when it is created
    return (
        holder
        if isinstance(holder, dict) and {"host", "pid", "started"} <= set(holder) and isinstance(holder["pid"], int)
        else {}
    )


def stale_reason(holder: dict) -> Optional[str]:
    """Why the holder is certainly gone, or None while it may still run."""
    me = this_process()
    job = holder.get("slurm_job_id")
    if job and job == me["slurm_job_id"] and int(holder.get("slurm_restart_count") or 0) < me["slurm_restart_count"]:
        return f"SLURM requeued job {job}, and this is its restart {me['slurm_restart_count']}"
    if holder.get("host") != me["host"]:
        return None  # its pids mean nothing here
    if holder.get("boot_id") and me["boot_id"] and holder["boot_id"] != me["boot_id"]:
        return f"{me['host']} has rebooted since"
    pid = int(holder["pid"])
    if pid == me["pid"]:
        return "its pid is this process's (a restarted container reuses pids)"
    if not pid_alive(pid):
        return f"no process {pid} runs on {me['host']}"
    if holder.get("process_start") and _process_start(pid) not in (None, holder["process_start"]):
        return f"pid {pid} is another process now"
    return None


def _since(started: str) -> str:
    try:
        when = datetime.fromisoformat(started).astimezone()
    except (TypeError, ValueError):
        return str(started)
    return when.strftime("%H:%M" if when.date() == datetime.now().date() else "%Y-%m-%d %H:%M")


def busy_message(folder, holder: dict) -> str:
    lock = Path(folder) / LOCK_NAME
    if not holder:
        return (
            f"Run folder '{folder}' holds a lock file that cannot be read ({lock}): another training may be using it. "
            f"If none is, remove it: rm {shlex.quote(str(lock))}"
        )
    line = (
        f"Run folder '{folder}' is in use by pid {holder['pid']} on host {holder['host']} since "
        f"{_since(holder['started'])} ({lock})"
    )
    if holder["host"] == socket.gethostname():
        return f"{line}. Wait for that training to end, or choose another paths.output_dir; nothing was changed."
    return (
        f"{line}. If that job is known to be dead (cancelled, or its node went down), remove the lock and run again: "
        f"rm {shlex.quote(str(lock))}"
    )


def check_not_locked(folder) -> None:
    """Read-only: raises the one-line UserError naming the holder when a live training holds ``folder``."""
    holder = read_holder(folder)
    if holder is not None and (not holder or stale_reason(holder) is None):
        raise UserError(busy_message(folder, holder))


class RunLock:
    """``<folder>/.lock``, held by this process between :meth:`acquire` and :meth:`release`."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.content = None

    def acquire(self, log) -> "RunLock":
        content = json.dumps(this_process(), indent=1).encode()
        for _ in range(5):
            if self._publish(content):
                self.content = content
                return self
            holder = read_holder(self.folder)
            if holder is None:
                continue  # released in between
            reason = stale_reason(holder) if holder else None
            if reason is None:
                raise UserError(busy_message(self.folder, holder))
            if self._take_over(json.dumps(holder)):
                log.warning(
                    f"warning: took over the lock of pid {holder['pid']} on host {holder['host']} (since "
                    f"{_since(holder['started'])}) in '{self.folder}': {reason}"
                )
        raise UserError(
            f"Could not take the lock of run folder '{self.folder}' ({self.path}): other trainings keep starting "
            "there. Start one training per paths.output_dir."
        )

    def _publish(self, content: bytes) -> bool:
        """True when this call created the lock, complete, with ``content``; False when a lock exists."""
        tmp = (
            self.folder / f"{LOCK_NAME}-{socket.gethostname()}{TMP_MARK}{os.getpid()}"
        )  # removed by remove_stale_temporaries if killed here
        try:
            with open(tmp, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, self.path)
                return True
            except FileExistsError:
                return False
            except OSError:
                if tmp.stat().st_nlink == 2:  # NFS: the link was made but its reply was lost
                    return True
            # A filesystem without hard links: O_EXCL, atomic on local disks and on NFSv3 and later.
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def _take_over(self, stale: str) -> bool:
        """Moves the stale lock aside; a lock that a live process took in between is put back."""
        aside = self.folder / f"{LOCK_NAME}-stale{TMP_MARK}{os.getpid()}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            moved = json.loads(aside.read_text())
        except (OSError, ValueError):
            moved = None
        if moved is None or json.dumps(moved) != stale:
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)
        return True

    def release(self) -> None:
        """Removes the lock if it is still this process's (a lock removed by hand and taken by another run is left)."""
        if self.content is None:
            return
        try:
            if self.path.read_bytes() == self.content:
                self.path.unlink()
        except OSError:
            pass
        self.content = None


def on_main_process(step):
    """Runs ``step()`` on the main process only; its UserError stops every process, so no rank waits for one that left."""
    result, error = None, None
    if is_main_process():
        try:
            result = step()
        except UserError as exc:
            error = exc
    message = all_gather_objects(None if error is None else str(error))[0]
    if error is not None:
        raise error
    if message is not None:
        raise UserError(message)
    return result


def lock_run_folder(cfg, fresh: bool, log) -> Optional[RunLock]:
    """Rank 0 creates the run folder, proves it writable and takes its lock (None elsewhere)."""

    def take():
        ensure_writable_folder(cfg.paths.output_dir, "the run folder (paths.output_dir)")
        lock = RunLock(cfg.paths.output_dir).acquire(log)
        if fresh:
            try:
                prepare_run_folder(cfg, resume=False)  # a run that ended between the first check and the lock
            except BaseException:
                lock.release()
                raise
        return lock

    return on_main_process(take)
