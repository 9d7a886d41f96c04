"""One pass over the validation loader (each source's, with dataset.sources): loss, dataset-level confusion matrix,
and a picture grid."""

import numpy as np
import torch
from tqdm import tqdm

from utils.data.transforms import denormalize
from utils.distributed import all_reduce_sum, is_main_process
from utils.labels import IGNORE_INDEX
from utils.metrics import ConfusionMatrix
from utils.runtime import autocast
from utils.visualize import colorize, side_by_side, stack_rows


@torch.inference_mode()
def validate(model, loader, criterion, labels, device, amp_dtype, mem_format, n_images: int = 4):
    """Returns (metrics, grid): metrics has val_loss, miou, mean_dice, pixel_acc, per_class; grid is an
    (H, W, 3) uint8 picture of input | ground truth | prediction for the first ``n_images`` images, or None."""
    model.eval()
    cm = ConfusionMatrix(labels.num_classes, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    count = torch.zeros((), dtype=torch.float64, device=device)
    rows, palette = [], labels.palette()
    for batch in tqdm(loader, desc="val", disable=not is_main_process(), leave=False, dynamic_ncols=True):
        images = batch["image"].to(device, non_blocking=True).contiguous(memory_format=mem_format)
        masks = batch["mask"].to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(images)
        loss_sum += criterion(logits, masks).double() * images.shape[0]
        count += images.shape[0]
        pred = logits.argmax(1)
        cm.update(pred, masks)
        if is_main_process() and len(rows) < n_images:
            take = min(n_images - len(rows), images.shape[0])
            pictures = denormalize(images[:take])
            for k in range(take):
                gt = colorize(masks[k].cpu().numpy(), palette)
                pr = colorize(pred[k].byte().cpu().numpy(), palette)
                rows.append(side_by_side(pictures[k], gt, pr))
    cm.reduce()
    all_reduce_sum(loss_sum)
    all_reduce_sum(count)
    metrics = cm.compute(labels.names, labels.void_classes)
    metrics = {"val_loss": float(loss_sum / count.clamp_min(1)), **metrics}
    grid = stack_rows(rows) if rows else None
    return metrics, (np.ascontiguousarray(grid) if grid is not None else None)


def validate_sources(model, loaders: dict, criterion, labels, device, amp_dtype, mem_format, n_images: int = 4):
    """:func:`validate` on every val loader (``{source name: loader}``; one named None without dataset.sources).

    With several sources the metrics are each one's (``per_source``) and, at the top, their mean: mIoU, mean dice,
    pixel accuracy and val loss averaged over the sources (each source weighs the same, whatever its size), per-class
    IoU and dice averaged over the sources where the class was scored; the grid has a share of rows from each.
    """
    if list(loaders) == [None]:
        return validate(model, loaders[None], criterion, labels, device, amp_dtype, mem_format, n_images)
    per_source, grids = {}, []
    rows = -(-n_images // len(loaders)) if n_images else 0
    for name, loader in loaders.items():
        metrics, grid = validate(model, loader, criterion, labels, device, amp_dtype, mem_format, rows)
        per_source[name] = scored_where_labelled(metrics, labels.names, loader.dataset.labels.lut)
        if grid is not None:
            grids.append(grid)
    return mean_over_sources(per_source), (stack_rows(grids, gap=12) if grids else None)


def scored_where_labelled(metrics: dict, names, lut: np.ndarray) -> dict:
    """A source's metrics over the classes its labels can hold: a class no label value of the source maps to (a
    folder dataset's classes.yaml with maps_to for some of its classes) has no IoU there (NaN), rather than 0 as soon
    as the model predicts it once, and the source's mIoU and mean dice are over the other classes."""
    reachable = set(np.unique(lut).tolist()) - {IGNORE_INDEX}
    if len(reachable) == len(names):
        return metrics
    per_class = {
        name: {key: (value if c in reachable else float("nan")) for key, value in row.items()}
        for c, (name, row) in enumerate(metrics["per_class"].items())
    }
    out = {**metrics, "per_class": per_class}
    for key, column in (("miou", "iou"), ("mean_dice", "dice")):
        out[key] = _nanmean_or_nan([row[column] for row in per_class.values()])
    return out


def mean_over_sources(per_source: dict) -> dict:
    """The top-level figures of several sources' metrics (see :func:`validate_sources`), with ``per_source`` kept."""
    first = next(iter(per_source.values()))
    out = {}
    for key in first:
        if key != "per_class":
            out[key] = _nanmean_or_nan([m[key] for m in per_source.values()])
    out["per_class"] = {
        name: {
            key: _nanmean_or_nan([m["per_class"][name][key] for m in per_source.values()])
            for key in first["per_class"][name]
        }
        for name in first["per_class"]
    }
    out["per_source"] = per_source
    return out


def _nanmean_or_nan(values: list) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")
