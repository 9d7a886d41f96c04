"""One pass over the validation loader: loss, dataset-level confusion matrix, and a picture grid."""

import numpy as np
import torch
from tqdm import tqdm

from utils.data.transforms import denormalize
from utils.distributed import all_reduce_sum, is_main_process
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
