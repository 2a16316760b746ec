"""Leak-proof views (docs/architecture.md, "Data"): what a method may read of a split.

Unsupervised methods receive :class:`MixtureBatch` objects, whose only tensor is the mixture;
supervised ones (pit, floss) receive :class:`SupervisedBatch`. The sampler that produces them is
the only code that touches a split, and it reads sources only when the method is supervised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import DataError
from .base import DataSpec, SourceSplit, mixture_sum


@dataclass(frozen=True, slots=True)
class MixtureBatch:
    """Mixtures only. ``mix`` is the sum of the (unseen) sources, shape [B, *item_shape]."""

    mix: torch.Tensor


@dataclass(frozen=True, slots=True)
class SupervisedBatch:
    mix: torch.Tensor
    sources: torch.Tensor  # [B, K, *item_shape]


class EpochSampler:
    """Deterministic, resumable batches: epoch e uses permutation from seed (seed, e).

    State is (epoch, position), so a resumed run sees exactly the data order of an uninterrupted
    one. ``supervised=False`` builds MixtureBatch objects and never calls ``split.sources*`` itself;
    a split's ``mixtures()`` may sum its stored sources internally (a fixed mixture, the same
    information as a mixture file), and the mixture is all that leaves the split.
    """

    def __init__(self, split: SourceSplit, batch_size: int, seed: int, supervised: bool,
                 limit: int = 0, device: str = "cpu",
                 shard: Callable[[torch.Tensor, int], torch.Tensor] | None = None):
        self._split = split
        self._spec: DataSpec = split.spec
        self._supervised = supervised
        self.batch_size = batch_size
        self.seed = seed
        self.size = min(len(split), limit) if limit else len(split)
        if self.size < batch_size:
            batch_size = self.size
            self.batch_size = max(2, batch_size)
        self.device = device
        # This process's slice of a global batch of indices (the engine's distributed.shard under
        # torchrun); None: the whole batch.
        self._shard = shard
        self.epoch = 0
        self.position = 0
        self._order = None

    def _permutation(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.size, generator=generator)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = None

    def next(self):
        if self._order is None:
            self._split.set_epoch(self.epoch)
            self._order = self._permutation()
        if self.position + self.batch_size > self.size:
            self.epoch += 1
            self.position = 0
            self._split.set_epoch(self.epoch)
            self._order = self._permutation()
        index = self._order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        if self._shard is not None:
            index = self._shard(index, self.batch_size)  # this process's slice under torchrun
        # Checked where the items are read (the host), so a GPU run has no sync here.
        mix = mixture_sum(self._split.mixtures(index), self._spec)
        self._check_finite(mix, index, "mixture")
        mix = mix.to(self.device, non_blocking=True)
        if not self._supervised:
            return MixtureBatch(mix=mix)
        sources = self._split.sources_batch(index)
        self._check_finite(sources, index, "sources")
        return SupervisedBatch(mix=mix, sources=sources.to(self.device, non_blocking=True))

    def _check_finite(self, values: torch.Tensor, index: torch.Tensor, what: str) -> None:
        """A NaN or inf in the data is a corrupt item, not a diverged run: name it."""
        finite = torch.isfinite(values.flatten(1)).all(1)
        if not bool(finite.all()):
            bad = int(index[int((~finite).nonzero()[0, 0])])
            item = self._split.item_ids()[bad]
            raise DataError(f"{self._spec.name}: training item {bad} ({item}) has a non-finite {what} (NaN or "
                            "inf); the dataset's files are corrupt: fix or remove that item, or fetch the data again")

    def distinct_mixtures(self) -> int:
        """How many distinct training mixtures the run could see: the fixed set, or with dynamic
        mixing the sets of every epoch it has reached (a new set each epoch)."""
        return self.size * (self.epoch + 1 if self._split.dynamic_mixing else 1)
