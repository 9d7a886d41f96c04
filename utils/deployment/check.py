"""The check run at every export: onnxruntime (CPU) against PyTorch on the same inputs.

Reported per input batch: the largest absolute difference of class probabilities and the share of
pixels whose argmax agrees. Goals: 1e-4 and 99.9 % for fp32 graphs. fp16 graphs are held to what half
precision gives: 5e-2 and 99 % (the quickstart model in fp16 differs by 1.2e-2 at most, agrees on 99.8 % of
pixels and scores the same mIoU to 1e-4). A class-index graph has no probabilities, only the agreement.
"""

from dataclasses import dataclass

import numpy as np
import torch

from utils.config.errors import UserError
from utils.data.loaders import build_dataset, dataset_items
from utils.deployment.runtime import OnnxModel
from utils.losses import probabilities

GOALS = {False: (1e-4, 0.999), True: (5e-2, 0.99)}  # fp16 -> (max abs difference, argmax agreement)


class CheckFailed(UserError):
    """onnxruntime and PyTorch disagree beyond the goals."""


@dataclass(frozen=True)
class CheckInput:
    name: str
    images: torch.Tensor  # (N, 3, H, W) normalised


def odd_size(size) -> tuple:
    """A size near ``size`` that is a multiple of neither 32 nor 64 on either side, so the graph's padding runs."""
    out = []
    for s, step in zip(size, (13, 29)):
        s = s + step
        out.append(s + 2 if s % 32 == 0 else s)
    return tuple(out)


def check_inputs(cfg, labels, count: int = 4) -> tuple:
    """(list of CheckInput, a sentence saying where they came from).

    ``count`` images of ``eval.split`` at ``dataset.size`` in one batch (dynamic batch), and the first of
    them at an odd size; random normal images when the split has no images (no dataset at paths.root).
    """
    h, w = cfg.dataset.size
    odd = odd_size(cfg.dataset.size)
    try:
        items = dataset_items(cfg, cfg.eval.split, labelled=False)
    except UserError:
        items = []
    if items:
        picked = items[:: max(1, len(items) // count)][:count]
        batch = torch.stack([s["image"] for s in build_dataset(cfg, labels, cfg.eval.split, "predict", items=picked)])
        odd_images = build_dataset(cfg, labels, cfg.eval.split, "predict", size=odd, items=picked[:1])[0]["image"][None]
        source = f"{len(picked)} {cfg.eval.split} images from {cfg.paths.root}"
    else:
        generator = torch.Generator().manual_seed(0)
        batch = torch.randn(count, 3, h, w, generator=generator)
        odd_images = torch.randn(1, 3, *odd, generator=generator)
        source = f"random images (no {cfg.eval.split} images under paths.root = {cfg.paths.root})"
    inputs = [CheckInput(f"{len(batch)} x {h}x{w}", batch), CheckInput(f"1 x {odd[0]}x{odd[1]} (odd size)", odd_images)]
    return inputs, source


@torch.inference_mode()
def compare(reference, onnx_model: OnnxModel, images: torch.Tensor, loss_name: str) -> dict:
    """One input batch through both.

    Args:
        reference: the fp32 PyTorch module returning (N, C, H, W) probabilities.
        onnx_model: the exported graph.
        images: (N, 3, H, W).
    Returns:
        {"max_abs_diff": float or None for class-index graphs, "agreement": share of equal argmax pixels}.
    """
    expected = reference(images).float().numpy()
    out = onnx_model.run(images.numpy())
    if onnx_model.kind == "labels":
        return {"max_abs_diff": None, "agreement": float((out == expected.argmax(1)).mean())}
    probs = probabilities(torch.from_numpy(out), loss_name).numpy() if onnx_model.kind == "logits" else out
    if probs.shape != expected.shape:
        return {"max_abs_diff": float("inf"), "agreement": 0.0, "shape": list(probs.shape)}
    if not np.isfinite(probs).all():  # a NaN would hide from max() and from the argmax agreement
        return {
            "max_abs_diff": float("inf"),
            "agreement": float((probs.argmax(1) == expected.argmax(1)).mean()),
            "non_finite": int((~np.isfinite(probs)).sum()),
        }
    return {
        "max_abs_diff": float(np.abs(probs - expected).max()),
        "agreement": float((probs.argmax(1) == expected.argmax(1)).mean()),
    }


def run_check(reference, onnx_path, inputs: list, loss_name: str, num_classes: int, fp16: bool) -> dict:
    """Compares every input; returns {"passed", "goals", "rows": [{"input", "max_abs_diff", "agreement"}], "max_abs_diff", "agreement"}."""
    onnx_model = OnnxModel(onnx_path, num_classes, device="cpu")
    rows = [{"input": item.name, **compare(reference, onnx_model, item.images, loss_name)} for item in inputs]
    max_goal, agree_goal = GOALS[fp16]
    diffs = [r["max_abs_diff"] for r in rows if r["max_abs_diff"] is not None]
    worst_diff = max(diffs) if diffs else None
    worst_agreement = min(r["agreement"] for r in rows)
    passed = worst_agreement >= agree_goal and (worst_diff is None or worst_diff <= max_goal)
    return {
        "passed": passed,
        "goals": {"max_abs_diff": max_goal, "agreement": agree_goal},
        "max_abs_diff": worst_diff,
        "agreement": worst_agreement,
        "rows": rows,
    }


def format_check(result: dict) -> str:
    lines = []
    for row in result["rows"]:
        diff = "n/a (class indices)" if row["max_abs_diff"] is None else f"{row['max_abs_diff']:.2e}"
        lines.append(
            f"  {row['input']:<28} max abs diff of probabilities {diff:<10}  argmax agreement "
            f"{100 * row['agreement']:.3f} %"
        )
    goals = result["goals"]
    verdict = "passed" if result["passed"] else "FAILED"
    lines.append(
        f"check {verdict} (goals: max abs diff <= {goals['max_abs_diff']:.0e}, argmax agreement >= "
        f"{100 * goals['agreement']:g} %)"
    )
    return "\n".join(lines)
