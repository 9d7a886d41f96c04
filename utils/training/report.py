"""What a run prints: one line per validation or epoch, and the summary at its end."""

import math

from utils.metrics import format_table


def summary_line(head: str, train_loss: float, record: dict, lr: float, speed: float, unlabeled: str = "") -> str:
    """``head`` (e.g. 'epoch 3/8'), the train loss when known, the unlabelled loss and confident share of
    semi-supervised training, the val metrics when validated, lr and img/s."""
    line = head + (f" | loss {train_loss:.4f}" if not math.isnan(train_loss) else "")
    line += f" | {unlabeled}" if unlabeled else ""
    if record is not None:
        line += (
            f" | val loss {record['val_loss']:.4f} | mIoU {record['miou']:.4f} | mean dice {record['mean_dice']:.4f} "
            f"| pixel acc {record['pixel_acc']:.4f}"
        )
        if "per_source" in record:
            line += " | per source mIoU " + ", ".join(f"{k} {m['miou']:.4f}" for k, m in record["per_source"].items())
    return line + f" | lr {lr:.2e} | {speed:.1f} img/s"


def source_line(train_set, val_loaders: dict) -> str:
    """The sources of a dataset.sources run: each one's train images, draw chance and val images."""
    total = sum(train_set.weights)
    parts = [
        f"{name} {len(d)} train ({w / total:.0%} of draws), {len(val_loaders[name].dataset)} val"
        for name, d, w in zip(train_set.names, train_set.datasets, train_set.weights)
    ]
    return "sources: " + "; ".join(parts)


def final_report(history: list, best, key_metric: str, run_path, skipped_steps: list) -> str:
    """The per-class table of the last validation, the best key metric, and any skipped steps."""
    lines = []
    if history:
        lines.append("\nper-class metrics on val (last validation):\n" + format_table(history[-1]))
        best_text = f"{best:.4f} (best.pth)" if best is not None else "never finite, so no best.pth"
        lines.append(f"best {key_metric}: {best_text}; last: last.pth in {run_path}")
    if skipped_steps:
        lines.append(
            f"{len(skipped_steps)} optimizer steps were skipped for a non-finite loss (training.nonfinite=skip): "
            f"{skipped_steps[:20]}"
        )
    return "\n".join(lines)
