"""Batches that mix several training sources (``dataset.sources``): one dataset over all of them, and a sampler that
draws each sample's source by weight.

The sampler is a :class:`~utils.data.sampler.SeededSampler` whose epoch order is drawn, not shuffled: each position
picks a source with probability ``weight / sum(weights)``, and takes that source's next image from its own
permutation of the epoch (starting over when a small source is used up). The whole order is a function of (seed,
epoch), so a run resumed inside an epoch skips to the same position of every source's permutation, on any number of
processes, exactly as a single-dataset run does.
"""

import bisect

import numpy as np
import torch
from torch.utils.data import Dataset

from utils.data.sampler import SeededSampler


class MixedSourceDataset(Dataset):
    """The sources' training datasets one after another: index ``offsets[s] + i`` is image ``i`` of source ``s``."""

    def __init__(self, datasets: list, names: list, weights: list):
        self.datasets, self.names, self.weights = list(datasets), list(names), [float(w) for w in weights]
        self.offsets = np.cumsum([0] + [len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        source = bisect.bisect_right(self.offsets, index) - 1
        sample = self.datasets[source][(index - self.offsets[source], seed)]
        sample["index"] = index
        return sample


class MixedSourceSampler(SeededSampler):
    """Yields ``(index, seed)`` of a :class:`MixedSourceDataset`, each sample's source drawn by weight."""

    def __init__(self, lengths: list, weights: list, seed: int, rank: int = 0, world_size: int = 1):
        super().__init__(sum(lengths), seed, shuffle=True, rank=rank, world_size=world_size)
        self.lengths, self.weights = list(lengths), [float(w) for w in weights]
        self.offsets = np.cumsum([0] + self.lengths).tolist()

    def draws(self, g: torch.Generator) -> torch.Tensor:
        """The source of every position of the epoch."""
        return torch.multinomial(torch.tensor(self.weights, dtype=torch.float64), self.length, True, generator=g)

    def order(self) -> list:
        g = self.generator()
        draws = self.draws(g).tolist()
        perms = [torch.randperm(n, generator=g).tolist() for n in self.lengths]
        taken, order = [0] * len(self.lengths), []
        for s in draws:
            order.append(self.offsets[s] + perms[s][taken[s] % self.lengths[s]])
            taken[s] += 1
        return order

    def positions(self, samples: int) -> list:
        """How many images of each source the epoch's first ``samples`` positions drew (where a resume continues)."""
        draws = self.draws(self.generator())[:samples]
        return torch.bincount(draws, minlength=len(self.lengths)).tolist()


__all__ = ["MixedSourceDataset", "MixedSourceSampler"]
