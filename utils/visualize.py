"""Pictures: colorized class maps, overlays on the input, side-by-side grids, the confusion-matrix plot, and the
image files every writer in the project saves through (RGB, single-channel, JPEG, palette PNG)."""

import io
import math
from pathlib import Path

import cv2
import numpy as np

from utils.files import atomic_write


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


def _imwrite(path, image: np.ndarray, params=()) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, list(params)):
        raise OSError(f"could not write {path}")


def save_rgb(path, rgb: np.ndarray) -> None:
    """(H, W, 3) uint8 RGB as a PNG (or whatever the suffix says), folders created."""
    _imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def save_gray(path, image: np.ndarray) -> None:
    """A single-channel image (label values, class indices, confidences; uint8 or uint16) as a PNG."""
    _imwrite(path, image)


def save_jpeg(path, rgb: np.ndarray, quality: int = 90) -> None:
    """(H, W, 3) uint8 RGB as a JPEG, as BDD100K and Mapillary Vistas ship their images."""
    _imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (cv2.IMWRITE_JPEG_QUALITY, quality))


def save_palette_png(path, indices: np.ndarray, colors) -> None:
    """(H, W) uint8 indices as a palette PNG with ``colors`` [(R, G, B), ...] (Vistas' label format)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    indices = np.ascontiguousarray(indices, np.uint8)
    image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(colors)] = np.asarray(colors, np.uint8)
    image.putpalette(palette.ravel().tolist())
    image.save(path, optimize=True)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finite(points: list) -> tuple:
    kept = [(x, y) for x, y in points if y is not None and math.isfinite(y)]
    return ([x for x, _ in kept], [y for _, y in kept]) if kept else ([], [])


def plot_training_curves(history: list, train_points: list, skipped_steps: list, path) -> None:
    """Loss (train and val), val mIoU and lr against optimizer steps; skipped steps as red lines. Written atomically.

    Args:
        history: metrics.json's records (iteration, val_loss, miou, lr).
        train_points: (step, train loss, lr) sampled during training.
        skipped_steps: optimizer steps dropped for a non-finite loss.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    loss_ax, miou_ax, lr_ax = axes
    loss_ax.plot(*_finite([(p[0], p[1]) for p in train_points]), lw=0.8, alpha=0.7, label="train (sampled steps)")
    loss_ax.plot(*_finite([(r["iteration"], r.get("val_loss")) for r in history]), "o-", ms=3, label="val")
    loss_ax.set_title("loss")
    miou_ax.plot(*_finite([(r["iteration"], r.get("miou")) for r in history]), "o-", ms=3, color="tab:green")
    miou_ax.set_title("val mIoU")
    lr_ax.plot(
        *_finite([(p[0], p[2]) for p in train_points] or [(r["iteration"], r.get("lr")) for r in history]),
        color="tab:purple",
    )
    lr_ax.set_title("lr")
    for ax in axes:
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        for step in skipped_steps:
            ax.axvline(step, color="red", lw=0.8, alpha=0.6)
    if skipped_steps:
        loss_ax.plot([], [], color="red", label=f"skipped steps ({len(skipped_steps)})")
    loss_ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def plot_confusion_matrix(matrix: np.ndarray, names, path) -> None:
    """Row-normalised confusion matrix (rows: ground truth) as a PNG, with an 'ignored' column when present."""
    plt = _pyplot()
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
                    ax.text(
                        j,
                        i,
                        f"{norm[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black",
                    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
