"""A sampler that hands each sample its own augmentation seed, so runs and resumes are reproducible."""

import numpy as np
import torch
from torch.utils.data import Sampler


class SeededSampler(Sampler):
    """Yields ``(index, seed)`` pairs: a per-epoch shuffle, sharded over processes like DistributedSampler.

    The seed of every sample depends only on (seed, epoch, position), never on worker count or on
    how many epochs ran in this process, which is what makes ``--resume`` bit-exact.
    """

    def __init__(
        self, length: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1, pad: bool = True
    ):
        self.length, self.seed, self.shuffle, self.pad = length, seed, shuffle, pad
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.start = 0
        # Padding repeats a few samples so that every process takes the same number of training steps;
        # evaluation shards are left uneven instead, so that no image is counted twice in the metrics.
        self.per_rank = -(-length // world_size) if pad else len(range(rank, length, world_size))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip(self, count: int) -> None:
        """The epoch's first ``count`` samples (over all processes) are left out: a resume from inside an epoch
        continues the same order with the same augmentation seeds, without loading what was already trained on,
        even on another number of processes."""
        self.start = count

    def __len__(self) -> int:
        return self.per_rank

    def order(self) -> list:
        """The epoch's sample indices over all processes, before padding: a function of (seed, epoch) only."""
        if self.shuffle:
            return torch.randperm(self.length, generator=self.generator()).tolist()
        return list(range(self.length))

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 100003 + self.epoch)

    def __iter__(self):
        order = self.order()
        total = self.per_rank * self.world_size if self.pad else self.length
        while len(order) < total:  # pad so every process takes the same number of steps
            order += order[: total - len(order)]
        seeds = np.random.SeedSequence([self.seed, self.epoch]).generate_state(total, dtype=np.uint32)
        for pos in range(self.start + self.rank, total, self.world_size):
            yield order[pos], int(seeds[pos])
