"""The run folder opens its log file and its TensorBoard writer together, and closes both whatever fails."""

import logging

import pytest
import tensorboardX

from utils.runtime import setup_console_logging
from utils.training.run_dir import RunDir


def file_handlers(folder) -> list:
    """Handlers of the process-wide logger that write into ``folder``."""
    return [
        h
        for h in setup_console_logging().handlers
        if isinstance(h, logging.FileHandler) and h.baseFilename.startswith(str(folder))
    ]


def test_log_file_and_tensorboard_open_and_close_together(tmp_path):
    run = RunDir(tmp_path)
    (handler,) = file_handlers(tmp_path)
    assert run.writer is not None and handler.stream is not None
    run.log.info("hello")
    run.close()
    assert file_handlers(tmp_path) == [] and handler.stream is None and run.writer is None
    assert "hello" in (tmp_path / "train.log").read_text() and list((tmp_path / "tensorboard").iterdir())
    run.close()  # a second close does nothing


def test_a_writer_that_cannot_be_made_leaves_no_log_handler(tmp_path, monkeypatch):
    opened = []

    class Handler(logging.FileHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    def no_writer(**_):
        raise OSError("No space left on device")

    monkeypatch.setattr(logging, "FileHandler", Handler)
    monkeypatch.setattr(tensorboardX, "SummaryWriter", no_writer)
    with pytest.raises(OSError, match="No space left"):
        RunDir(tmp_path)
    assert file_handlers(tmp_path) == [] and len(opened) == 1 and opened[0].stream is None


def test_close_closes_the_log_file_when_the_writer_fails_to_close(tmp_path):
    run = RunDir(tmp_path)
    (handler,) = file_handlers(tmp_path)
    writer = run.writer

    def broken_close():
        raise OSError("the disk went away")

    run.writer.close = broken_close
    with pytest.raises(OSError, match="the disk went away"):
        run.close()
    assert file_handlers(tmp_path) == [] and handler.stream is None
    writer.file_writer.close()  # the real writer's files, for the test's own cleanliness
