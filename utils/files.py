"""Files the toolkit writes: strict JSON, atomic replacement, clear messages when a disk says no, and the one way a
score is printed in tables and logs (NaN and None as "n/a").

Every write goes to a temporary file in the same folder, is fsynced, then renamed over the target: a
crash, a full disk or Ctrl-C leaves the previous file as it was, and the temporary file is removed.
"""

import errno
import json
import math
import os
import shutil
from pathlib import Path

from utils.config.errors import UserError

TMP_MARK = ".tmp-"


class WriteError(UserError):
    """A file could not be written (disk full, file-size limit, permissions); earlier files are intact."""


def json_safe(obj):
    """NaN (a class with no pixels) becomes null, so metrics files are strict JSON for jq and browsers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def to_json(data) -> str:
    return json.dumps(json_safe(data), indent=2, allow_nan=False)


def describe_os_error(exc: BaseException) -> str:
    """'No space left on device' rather than a C++ serializer's 'unexpected pos'."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


class _RecordingFile:
    """A file wrapper that remembers the first error of a write (an OS error, or Ctrl-C): torch.save's C++
    writer replaces it with 'RuntimeError: [enforce fail at inline_container.cc] unexpected pos'."""

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data):
        try:
            return self.f.write(data)
        except BaseException as exc:
            self.error = self.error or exc
            raise

    def flush(self):
        return self.f.flush()


def atomic_write(path, write) -> None:
    """Calls ``write(file)`` on a temporary file next to ``path``, fsyncs it and renames it over ``path``.

    Raises:
        WriteError: naming ``path`` and the OS reason (no space, file too large, permission denied).
        KeyboardInterrupt: passed on after the temporary file is removed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    recorder = None
    try:
        with open(tmp, "wb") as f:
            recorder = _RecordingFile(f)
            write(recorder)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        cause = recorder.error if recorder is not None and recorder.error is not None else exc
        if isinstance(cause, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        if isinstance(cause, OSError):
            raise WriteError(f"Could not write '{path}': {describe_os_error(cause)}. {_advice(cause)}") from None
        raise
    _fsync_folder(path.parent)


def _advice(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "Free some space (or point the output folder elsewhere) and run again; files written before are intact."
    if code == errno.EFBIG:
        return "A file-size limit is in force (ulimit -f); raise it and run again; files written before are intact."
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "Make the folder writable or choose another output folder; files written before are intact."
    return "Files written before are intact."


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # some filesystems refuse fsync on folders; the rename is already done


def atomic_write_text(path, text: str) -> None:
    """Readers never see the file half-written."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder) -> list:
    """Removes ``.<name>.tmp-<pid>`` files left by a process that was killed while saving; returns their names.

    Called before this process writes anything there, so a file with its own pid (a restarted container
    reuses pids) is stale too; files of other live processes are left alone.
    """
    removed = []
    for tmp in Path(folder).glob(f".*{TMP_MARK}*"):
        pid = tmp.name.rsplit(TMP_MARK, 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
            try:
                tmp.unlink()
                removed.append(tmp.name)
            except OSError:
                pass
    return removed


def ensure_writable_folder(folder, what: str) -> Path:
    """Creates ``folder`` and proves a file can be written, synced and removed there, before any work is done."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(
            f"Cannot create {what} '{folder}': {describe_os_error(exc)}. Choose a folder you can write to."
        ) from None
    probe = folder / f".write-probe{TMP_MARK}{os.getpid()}"
    try:
        with open(probe, "wb") as f:
            f.write(b"ok")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise WriteError(f"Cannot write in {what} '{folder}': {describe_os_error(exc)}. {_advice(exc)}") from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    return folder


def free_bytes(folder) -> int:
    return shutil.disk_usage(folder).free


def is_missing(value) -> bool:
    """Whether a score is absent: None, or NaN (a class with no pixels, an evaluator that did not run)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value, digits: int = 4) -> str:
    """A score for tables and logs: ``value`` to ``digits`` decimals, or "n/a" where it :func:`is_missing`."""
    return "n/a" if is_missing(value) else f"{value:.{digits}f}"
