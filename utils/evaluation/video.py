"""Video out through imageio-ffmpeg (it ships its own ffmpeg binary); reading is in :mod:`utils.data.frames`."""

from pathlib import Path

import imageio_ffmpeg
import numpy as np

from utils.data.frames import VIDEO_SUFFIXES, is_video, read_video, video_info


class VideoWriter:
    """Writes RGB frames of one size to an H.264 mp4 (sizes are padded to even numbers as yuv420p needs).

    Close it in a ``finally`` (or use it as a context manager): closing ends ffmpeg's stream, so a run that
    fails midway leaves a playable video of the frames written so far, and no ffmpeg process behind.
    """

    def __init__(self, path, size_wh, fps: float):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        w, h = size_wh
        self.even = (w + w % 2, h + h % 2)
        self._gen = imageio_ffmpeg.write_frames(
            str(self.path), self.even, fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1, quality=7
        )
        self._gen.send(None)
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        w, h = self.even
        if frame.shape[1] != w or frame.shape[0] != h:
            frame = np.pad(frame, ((0, h - frame.shape[0]), (0, w - frame.shape[1]), (0, 0)), mode="edge")
        self._gen.send(np.ascontiguousarray(frame))
        self.count += 1

    def close(self) -> None:
        """Finishes the file and waits for ffmpeg to exit; a video without a frame is not playable and is removed."""
        self._gen.close()
        if self.count == 0:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["VIDEO_SUFFIXES", "VideoWriter", "is_video", "read_video", "video_info"]
