"""Model calls for evaluation: whole-image or sliding-window probabilities, under autocast, without grad."""

import torch
import torch.nn.functional as F

from utils.losses import probabilities
from utils.runtime import autocast


def _starts(length: int, window: int, stride: int) -> list:
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    return starts + [length - window]


def slide_logits(
    model, images: torch.Tensor, window, overlap: float, num_classes: int, max_batch: int = 8
) -> torch.Tensor:
    """Averages logits of ``window``-sized crops that overlap by ``overlap`` (a fraction of the window).

    ``images`` are at the training scale (resized to dataset.size) and the window is the training crop,
    so every window sees objects at the size training saw them; large images that would not fit in
    memory at once are covered window by window. Images smaller than the window are predicted whole.
    Returns (N, C, H, W) float32 logits.
    """
    n, _, h, w = images.shape
    wh, ww = min(window[0], h), min(window[1], w)
    sh, sw = max(1, int(wh * (1 - overlap))), max(1, int(ww * (1 - overlap)))
    boxes = [(y, x) for y in _starts(h, wh, sh) for x in _starts(w, ww, sw)]
    total = torch.zeros(n, num_classes, h, w, device=images.device)
    count = torch.zeros(1, 1, h, w, device=images.device)
    for i in range(0, len(boxes), max(1, max_batch // n)):
        chunk = boxes[i : i + max(1, max_batch // n)]
        crops = torch.cat([images[:, :, y : y + wh, x : x + ww] for y, x in chunk])
        out = model(crops).float()
        for j, (y, x) in enumerate(chunk):
            total[:, :, y : y + wh, x : x + ww] += out[j * n : (j + 1) * n]
            count[:, :, y : y + wh, x : x + ww] += 1
    return total / count


class ModelRunner:
    """images (N, 3, H, W) normalised -> (N, C, H, W) probabilities, as the training loss defines them.

    Args:
        model: the PyTorch model or anything called the same way (an onnxruntime graph).
        loss_name: bce_dice (sigmoid) or ce_dice (softmax).
        num_classes: C.
        device: where the images go.
        amp_dtype: autocast dtype, or None.
        mem_format: the memory format the model runs in.
        mode: resize (the whole image) or slide (``window``-sized crops overlapping by ``overlap``).
        outputs: logits (the activation is applied here) or probabilities already.
    """

    def __init__(
        self,
        model,
        loss_name: str,
        num_classes: int,
        device,
        *,
        amp_dtype=None,
        mem_format=torch.contiguous_format,
        mode: str = "resize",
        window=(512, 1024),
        overlap: float = 0.33,
        outputs: str = "logits",
    ):
        self.model, self.loss_name, self.num_classes = (
            model.eval() if isinstance(model, torch.nn.Module) else model,
            loss_name,
            num_classes,
        )
        self.device, self.amp_dtype, self.mem_format = device, amp_dtype, mem_format
        self.mode, self.window, self.overlap, self.outputs = mode, tuple(window), overlap, outputs

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True).contiguous(memory_format=self.mem_format)
        with autocast(self.device, self.amp_dtype):
            if self.mode == "slide":
                logits = slide_logits(self.model, x, self.window, self.overlap, self.num_classes)
            else:
                logits = self.model(x)
        return probabilities(logits, self.loss_name) if self.outputs == "logits" else logits.float()


def upsample_to(probs: torch.Tensor, size) -> torch.Tensor:
    """(C, h, w) or (N, C, h, w) probabilities -> the ground truth's (H, W), bilinear."""
    squeeze = probs.dim() == 3
    p = probs.unsqueeze(0) if squeeze else probs
    if tuple(p.shape[-2:]) != tuple(size):
        p = F.interpolate(p, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)
    return p[0] if squeeze else p
