"""Reading one label file: single-channel 8-bit PNGs of label values, palette PNGs of indices, the error a file
that cannot be used raises (the data check lists its reason beside the file), and the rule for values outside a
family's table."""

from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from PIL import Image

from utils.config.errors import UserError


class LabelFileError(UserError):
    """A label file that cannot be used; ``reason`` says why without the path, for the data check's list."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def read_single_channel(path: Path, what: str = "label values") -> np.ndarray:
    """A single-channel 8-bit label PNG (Cityscapes label ids, BDD100K train ids, a folder dataset's values)."""
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise LabelFileError(
            f"Cannot read label file '{path}': the file is missing or not a PNG.",
            "does not decode (empty, truncated or not a PNG)",
        )
    if label.ndim != 2 or label.dtype != np.uint8:
        reason = f"is not a single-channel 8-bit PNG of {what} (got shape {label.shape}, {label.dtype})"
        raise LabelFileError(f"Label file '{path}' {reason}.", reason)
    return label


def read_palette_indices(path: Path, not_palette: str) -> np.ndarray:
    """An 8-bit palette (or grey) PNG -> (H, W) uint8 palette indices (Vistas' labels, BDD100K's colormaps); OpenCV
    would turn the palette into colours. ``not_palette`` ends the reason a colour picture is refused with."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                reason = f"is a {image.mode} picture, not {not_palette}"
                raise LabelFileError(f"Label file '{path}' {reason}.", reason)
            return np.array(image)
    except OSError:
        raise LabelFileError(
            f"Cannot read label file '{path}': the file is missing or not a PNG.",
            "does not decode (empty, truncated or not a PNG)",
        ) from None


def few(values) -> str:
    """Values as runs: 0-18, 255 (the first 6 runs)."""
    values = sorted(int(v) for v in values)
    runs = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = [f"{a}" if a == b else f"{a}, {b}" if b == a + 1 else f"{a}-{b}" for a, b in runs]
    return ", ".join(text[:6]) + (", ..." if len(text) > 6 else "")


def unknown_values_problem(codes: np.ndarray, path: Path, known: np.ndarray, table: str) -> Optional[str]:
    """Why ``codes`` holds values outside ``known`` (the family's table), or None."""
    values = np.unique(codes)
    outside = np.setdiff1d(values, known)
    if len(outside) == len(values):
        return f"every pixel of its label '{path}' is outside {table} (values {few(outside)}; allowed {few(known)})"
    if len(outside):
        return f"its label '{path}' holds values outside {table} ({few(outside)}; allowed {few(known)})"
    return None
