"""Pictures: colorized class maps, overlays on the input, side-by-side grids and the confusion-matrix plot."""

from pathlib import Path

import cv2
import numpy as np


def colorize(class_map: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 RGB via a (256, 3) palette."""
    return palette[class_map]


def overlay(image: np.ndarray, class_map: np.ndarray, palette: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blends the colorized prediction over the RGB input (the original's images_morphing)."""
    color = colorize(class_map, palette)
    if color.shape[:2] != image.shape[:2]:
        color = cv2.resize(color, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    return cv2.addWeighted(image, 1.0 - alpha, color, alpha, 0.0)


def side_by_side(*panels: np.ndarray, gap: int = 4) -> np.ndarray:
    """Same-height RGB panels joined left to right with a white gap."""
    h = panels[0].shape[0]
    spacer = np.full((h, gap, 3), 255, np.uint8)
    parts = []
    for p in panels:
        if p.shape[0] != h:
            p = cv2.resize(p, (round(p.shape[1] * h / p.shape[0]), h), interpolation=cv2.INTER_NEAREST)
        parts += [p, spacer]
    return np.concatenate(parts[:-1], axis=1)


def stack_rows(rows: list, gap: int = 4) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    padded = []
    for r in rows:
        pad = np.full((r.shape[0], width - r.shape[1], 3), 255, np.uint8)
        padded += [np.concatenate([r, pad], 1), np.full((gap, width, 3), 255, np.uint8)]
    return np.concatenate(padded[:-1], axis=0)


def save_rgb(path, rgb: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def plot_confusion_matrix(matrix: np.ndarray, names, path) -> None:
    """Row-normalised confusion matrix (rows: ground truth) as a PNG, with an 'ignored' column when present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, np.float64)
    if m.shape[1] > len(names) and not m[:, len(names) :].any():
        m = m[:, : len(names)]  # no pixel was dropped to ignore: no column for it
    cols = list(names) + (["(dropped)"] if m.shape[1] > len(names) else [])
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    size = 1.0 + 0.45 * len(cols)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    if len(names) <= 20:
        for i in range(norm.shape[0]):
            for j in range(norm.shape[1]):
                if norm[i, j] >= 0.005:
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6, color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
