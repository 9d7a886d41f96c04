"""The unlabelled half of a semi-supervised step as pure functions on tensors: pseudo-labels from a teacher's
probabilities, CutMix inside the unlabelled batch, a student's outputs split into their labelled and unlabelled parts.

Shapes: probabilities (N, C, H, W) float; images (N, 3, H, W); maps (``valid``, CutMix boxes, labels) (N, H, W).
"""

import torch

from utils.labels import IGNORE_INDEX


def cutmix(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """``x`` (N, ...) with sample i taking, inside ``boxes[i]`` ((N, H, W) bool), the pixels of sample (i + 1) mod N.

    Images (N, C, H, W) and maps (N, H, W) are mixed with the same boxes, so an image and its pseudo-labels agree.
    """
    following = torch.roll(x, shifts=-1, dims=0)  # following[i] = x[(i + 1) % N]
    mask = boxes if x.dim() == boxes.dim() else boxes.unsqueeze(1)
    return torch.where(mask, following, x)


def pseudo_labels(
    probs: torch.Tensor, valid: torch.Tensor, boxes: torch.Tensor, threshold: float, keep_per_class: float = 0.0
) -> tuple:
    """The targets the student's strong view trains on.

    The teacher's top class and its probability (the confidence) at each pixel of the weak views, mixed by
    :func:`cutmix` with ``boxes`` as the strong images are, together with ``valid`` (False where the crop padded).
    A pixel keeps its label where its confidence is at or above ``threshold``, or, with ``keep_per_class`` > 0, at
    or above its class's own threshold from :func:`class_thresholds`.

    Returns:
        (targets (N, H, W) int64 class indices, ``IGNORE_INDEX`` where the pixel did not keep its label or is not
        valid; confident (N, H, W) bool, the pixels that kept their label; valid (N, H, W) bool, mixed).
    """
    confidence, labels = probs.max(dim=1)
    passes = confidence >= threshold
    if keep_per_class > 0:
        passes |= confidence >= class_thresholds(confidence, labels, valid, keep_per_class, probs.shape[1])
    labels, passes, valid = cutmix(labels, boxes), cutmix(passes, boxes), cutmix(valid, boxes)
    confident = valid & passes
    return torch.where(confident, labels, torch.full_like(labels, IGNORE_INDEX)), confident, valid


def class_thresholds(
    confidence: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, keep: float, num_classes: int
) -> torch.Tensor:
    """Class-balanced thresholds, as CBST's (Zou et al., ECCV 2018) within one batch: per pixel, the confidence at
    or above which the most confident ``keep`` share (rounded up) of the batch's valid pixels of its top class lie.

    A class the teacher is rarely sure of (a pole, a pedestrian) so still keeps its surest pixels, where one global
    threshold would leave it without pseudo-labels and the student would learn the frequent classes alone. Two
    sorts of the batch, no host sync.
    """
    bucket = torch.where(valid, labels, torch.full_like(labels, num_classes)).flatten()  # invalid: a bucket of its own
    by_confidence = torch.argsort(confidence.flatten())
    order = by_confidence[torch.sort(bucket[by_confidence], stable=True).indices]  # by class, then by confidence
    counts = torch.bincount(bucket, minlength=num_classes + 1)
    ends = torch.cumsum(counts, 0)  # each class's pixels end here in the sorted order
    kept = torch.ceil(counts.double() * keep).long()
    first_kept = (ends - kept).clamp(0, bucket.numel() - 1)
    per_class = confidence.flatten()[order[first_kept]]  # the lowest confidence of each class's kept share
    return per_class[labels]


def confident_share(confident: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The share of valid pixels that kept a pseudo-label (a 0-dim tensor, no host sync). A mean over the confident
    pixels times this is FixMatch's mean over every valid pixel with the unconfident ones counting 0."""
    return confident.sum() / valid.sum().clamp_min(1)


def split_outputs(outputs, n: int) -> tuple:
    """A model's outputs on ``cat(first n images, the rest)`` as (outputs of the first n, outputs of the rest): logits
    split along the batch, or a training dict of auxiliary outputs split per key."""
    if isinstance(outputs, dict):
        return {k: v[:n] for k, v in outputs.items()}, {k: v[n:] for k, v in outputs.items()}
    return outputs[:n], outputs[n:]


def class_counts(targets: torch.Tensor, confident: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes,) float: how many confident pixels each pseudo-label class has (no host sync)."""
    index = torch.where(confident, targets, torch.zeros_like(targets)).flatten()
    counts = torch.zeros(num_classes, device=targets.device)
    return counts.scatter_add_(0, index, confident.flatten().float())
