"""What semi-supervised training measures: the unlabelled loss, the share of valid pixels whose pseudo-label is
confident enough to count, and the pseudo-labels' class distribution, summed on the device and read only where the
loop waits anyway."""

import torch

from utils.distributed import all_reduce_sum, is_main_process

_LOSS, _BATCHES, _CONFIDENT, _VALID = range(4)  # the sums' columns; then one per class (the window only)


class UnlabeledStats:
    """Sums over a TensorBoard window (since the last scalars were written; this process's) and over the epoch (all
    processes, reduced at its end; a mid-epoch last.pth carries them, as it does the labelled loss sums)."""

    def __init__(self, names: tuple, device: torch.device):
        self.names, self.device = tuple(names), device
        self.window = torch.zeros(4 + len(self.names), device=device)
        self.epoch = torch.zeros(4, device=device)

    def add(self, loss: torch.Tensor, confident: torch.Tensor, valid: torch.Tensor, counts: torch.Tensor) -> None:
        """One micro-batch: its unlabelled loss, confident and valid (N, H, W) bool maps, per-class counts."""
        row = torch.stack(
            [loss.float(), torch.ones((), device=loss.device), confident.sum().float(), valid.sum().float()]
        )
        self.window += torch.cat([row, counts])
        self.epoch += row

    def begin_epoch(self, carried=None) -> None:
        """``carried``: the sums of the epoch's part before a mid-epoch resume (rank 0 carries them for all)."""
        self.epoch.zero_()
        if carried and is_main_process():
            self.epoch += torch.tensor(carried, device=self.device)

    def epoch_sums(self) -> list:
        """The epoch's sums so far over all processes, for a mid-epoch last.pth; a collective."""
        return all_reduce_sum(self.epoch.clone()).tolist()

    def end_epoch(self) -> str:
        """The epoch's unlabelled loss and confident share, as the epoch's summary line shows them; a collective."""
        loss, batches, confident, valid = all_reduce_sum(self.epoch).tolist()
        if not batches:
            return ""  # unlabeled.start_iters not reached yet
        return f"unlabeled loss {loss / batches:.4f}, confident {confident / max(valid, 1):.1%}"

    def scalars(self) -> dict:
        """TensorBoard's ``unlabeled/*`` values of the window, which starts again (reads the device)."""
        sums = self.window.tolist()
        self.window.zero_()
        if not sums[_BATCHES]:
            return {}
        values = {
            "unlabeled/loss": sums[_LOSS] / sums[_BATCHES],
            "unlabeled/confident_share": sums[_CONFIDENT] / max(sums[_VALID], 1.0),
        }
        if sums[_CONFIDENT]:
            counts = sums[4:]
            values.update({f"unlabeled/class_share/{n}": c / sums[_CONFIDENT] for n, c in zip(self.names, counts)})
        return values
