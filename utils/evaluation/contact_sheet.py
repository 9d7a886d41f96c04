"""The chosen frames as pictures: a contact sheet (each frame beside its uncertainty map, named and scored) and a
folder of the frames for a labelling tool."""

import math
import os
from pathlib import Path

import cv2
import numpy as np

from utils.config.errors import UserError
from utils.visualize import save_rgb

THUMB_H, THUMB_W = 90, 180  # each frame and each map, letterboxed into this box
TEXT_H = 16  # the band under a cell that names the frame and its score
GAP = 2  # between a frame and its map
MARGIN = 6  # around and between cells
BACKGROUND = (255, 255, 255)
CELL_W, CELL_H = 2 * THUMB_W + GAP, THUMB_H + TEXT_H


def sheet_shape(count: int, columns: int) -> tuple:
    """(H, W) of the sheet of ``count`` cells in ``columns`` columns (fewer when there are fewer cells)."""
    cols = max(1, min(columns, count))
    rows = math.ceil(count / cols)
    return rows * CELL_H + (rows + 1) * MARGIN, cols * CELL_W + (cols + 1) * MARGIN


def _letterbox(image: np.ndarray, interpolation) -> np.ndarray:
    """(H, W, 3) uint8 scaled to fit (THUMB_H, THUMB_W), centred on the background."""
    h, w = image.shape[:2]
    scale = min(THUMB_H / h, THUMB_W / w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=interpolation)
    box = np.full((THUMB_H, THUMB_W, 3), BACKGROUND, np.uint8)
    y, x = (THUMB_H - size[1]) // 2, (THUMB_W - size[0]) // 2
    box[y : y + size[1], x : x + size[0]] = small
    return box


def colour_map(uncertainty: np.ndarray) -> np.ndarray:
    """(H, W) uncertainty in [0, 1] -> (H, W, 3) uint8 RGB, inferno: dark = sure, bright yellow = unsure."""
    level = np.clip(np.round(uncertainty * 255), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _caption(text: str) -> tuple:
    """``text`` shortened from the left until it fits a cell; (text, font scale)."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.36
    while len(text) > 4 and cv2.getTextSize(text, font, scale, 1)[0][0] > CELL_W - 4:
        text = ".." + text[3:]
    return text, scale


def _cell(rank: int, name: str, score: float, image: np.ndarray, uncertainty: np.ndarray) -> np.ndarray:
    cell = np.full((CELL_H, CELL_W, 3), BACKGROUND, np.uint8)
    cell[:THUMB_H, :THUMB_W] = _letterbox(image, cv2.INTER_AREA)
    cell[:THUMB_H, THUMB_W + GAP :] = _letterbox(colour_map(uncertainty), cv2.INTER_AREA)
    text, scale = _caption(f"{rank}. {name}  {score:.4f}")
    cv2.putText(cell, text, (2, CELL_H - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)
    return cell


def contact_sheet(entries: list, columns: int = 3) -> np.ndarray:
    """(H, W, 3) uint8 RGB grid of ``entries`` [(rank, name, score, (H, W, 3) RGB frame, (H, W) uncertainty)],
    left to right, then top to bottom, in the order given; its size is :func:`sheet_shape`'s."""
    h, w = sheet_shape(len(entries), columns)
    cols = max(1, min(columns, len(entries)))
    sheet = np.full((h, w, 3), BACKGROUND, np.uint8)
    for k, entry in enumerate(entries):
        row, col = divmod(k, cols)
        y, x = MARGIN + row * (CELL_H + MARGIN), MARGIN + col * (CELL_W + MARGIN)
        sheet[y : y + CELL_H, x : x + CELL_W] = _cell(*entry)
    return sheet


def check_link_dir(folder) -> Path:
    """``--link_dir`` must be new or empty: frames of an earlier selection would mix with this one's."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(
            f"--link_dir '{folder}' already exists and is not an empty folder; give a new or empty folder, so that "
            "it holds this selection's frames only."
        )
    return folder


def link_frame(folder: Path, rank: int, digits: int, name: str, path=None, image=None) -> Path:
    """Places one chosen frame into ``folder`` as ``<rank>_<name><suffix>`` (rank zero-padded, so they sort in rank
    order): a file as a hard link (a symbolic link to it across file systems), a video frame as a PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    if path is None:
        target = folder / f"{rank:0{digits}d}_{name}.png"
        save_rgb(target, image)
        return target
    path = Path(path)
    target = folder / f"{rank:0{digits}d}_{name}{path.suffix}"
    try:
        os.link(path, target)
    except OSError:  # another file system, or one without hard links
        os.symlink(path.resolve(), target)
    return target
