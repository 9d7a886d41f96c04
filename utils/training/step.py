"""One optimizer step: unscale and clip, judge the loss and gradient norm, step or drop."""

import torch

from utils.training.nonfinite import NonFiniteGuard


def gradient_norm(params: list) -> torch.Tensor:
    """The total 2-norm of the gradients, as clip_grad_norm_ computes it, without touching them (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = torch._foreach_norm(grads) if hasattr(torch, "_foreach_norm") else [g.norm() for g in grads]
    return torch.linalg.vector_norm(torch.stack([n.to(grads[0].device) for n in norms]))


def optimizer_step(
    model: torch.nn.Module,
    optimizer,
    scaler,
    clip_grad_norm,
    guard: NonFiniteGuard,
    loss: torch.Tensor,
    step: int,
    epoch: int,
) -> bool:
    """Clips, checks for NaN/inf and steps; returns False when the guard (training.nonfinite=skip) dropped the step.

    ``loss`` is the step's mean loss (over accumulated micro-batches), ``step`` the 1-based optimizer step
    about to be taken and ``epoch`` the 1-based epoch, for the guard's messages. Gradients are zeroed either way.
    """
    params = [p for p in model.parameters() if p.grad is not None]
    if scaler.is_enabled():
        # fp16: overflowing gradients are the scaler's to skip (it lowers its scale); only the loss is judged here.
        if clip_grad_norm:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
        norm = torch.zeros((), device=loss.device)
    elif clip_grad_norm:
        norm = torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
    else:
        norm = gradient_norm(params)
    ok = guard.observe(loss, norm, step, epoch)
    if ok:
        scaler.step(optimizer)
        scaler.update()
    elif scaler.is_enabled() and clip_grad_norm:
        scaler.update()  # closes the unscale_ above (and lowers the scale if it saw inf), or the next unscale_ fails
    optimizer.zero_grad(set_to_none=True)
    return ok
