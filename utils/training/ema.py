"""The EMA teacher of semi-supervised training (Mean Teacher): a copy of the model whose weights trail the student's."""

import copy

import torch


class EMATeacher:
    """An exponential moving average of a model's parameters and floating-point buffers (batch-norm statistics),
    kept in eval mode without gradients; integer buffers (batch counts) are copied.

    After optimizer step ``step`` (1-based) ``ema = d * ema + (1 - d) * student`` with
    ``d = min(decay, 1 - 1 / (step + 1))``: Mean Teacher's warm-up, so the early teacher follows the student closely.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self._lists = None  # (student, ema) tensors to average and to copy: built once, they alias the weights

    def decay_at(self, step: int) -> float:
        return min(self.decay, 1.0 - 1.0 / (step + 1))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Moves the average towards ``model`` after optimizer step ``step`` (no host sync)."""
        if self._lists is None or self._lists[0] is not model:
            pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
            floats = [(e, v) for e, v in pairs if e.is_floating_point()]
            self._lists = (
                model,
                [e for e, _ in floats],
                [v for _, v in floats],
                [p for p in pairs if not p[0].is_floating_point()],
            )
        _, averaged, current, copied = self._lists
        if averaged:
            torch._foreach_lerp_(averaged, current, 1.0 - self.decay_at(step))
        for ema, value in copied:
            ema.copy_(value)

    def __call__(self, images: torch.Tensor):
        return self.model(images)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)  # in place: the cached tensors stay the model's
