"""The data contract (docs/architecture.md, "Data").

A :class:`DatasetAdapter` opens a :class:`SourceSplit`. A split maps item ``i`` to a mixture and
its ``K`` source slots (all-zero slots for inactive sources). Mixtures are either the *mean* of
the sources (images: m = (x1 + x2) / 2) or their *sum* (audio); :func:`mixture_sum` turns either
into the sum that mixture consistency preserves.

Unsupervised methods never get a split: they get :class:`MixtureBatch` objects (see
``surf_bench.data.views``). Training mixtures are a fixed set by default (docs/architecture.md,
"Protocol"); ``data.dynamic_mixing`` (supervised methods only) asks an adapter that supports it
for new training mixtures every epoch.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError


@dataclass(frozen=True)
class DataSpec:
    """What a method needs to know about the data, and nothing about its sources."""

    name: str
    modality: str  # image | audio
    n_slots: int  # K
    item_shape: tuple  # image: (C, H, W); audio: (T,)
    mixing: str  # mean | sum
    sample_rate: int | None = None
    # Images: pixels in [0, 1], estimates clamped to it before scoring (BASIS / LASS). False for
    # sources that leave that range (the oracle sets' Gaussian-mixture prior): scored unclamped.
    bounded: bool = True


class SourceSplit(abc.ABC):
    """One split of a dataset. Adapters override :meth:`mixtures` / :meth:`sources` for speed."""

    spec: DataSpec

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def item_ids(self) -> list[str]:
        """Stable identifiers of the items, in order (they make the manifest hash)."""

    @abc.abstractmethod
    def mixture(self, i: int) -> torch.Tensor:
        """Mixture of item i: image [C, H, W] or audio [T]."""

    @abc.abstractmethod
    def sources(self, i: int) -> torch.Tensor:
        """Sources of item i: [K, C, H, W] or [K, T]."""

    def mixtures(self, index: torch.Tensor) -> torch.Tensor:
        return stack_items(self, [self.mixture(int(i)) for i in index], index, "mixture")

    def sources_batch(self, index: torch.Tensor) -> torch.Tensor:
        return stack_items(self, [self.sources(int(i)) for i in index], index, "sources")

    dynamic_mixing: bool = False  # True: set_epoch draws new mixtures from the clean sources

    def set_epoch(self, epoch: int) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Splits with dynamic mixing redraw their mixtures per epoch (deterministically); others may
        change only what needs no source (e.g. a random crop of a fixed mixture)."""

    def manifest_hash(self) -> str:
        digest = hashlib.sha256("\n".join(self.item_ids()).encode())
        return digest.hexdigest()[:16]


class DatasetAdapter(abc.ABC):
    """A dataset plugin. Subclasses set the class attributes and implement :meth:`open`."""

    name: str = ""
    modality: str = ""
    n_slots: int = 0
    description: str = ""
    offline: bool = False  # True: builds on a fresh machine with no download
    supports_dynamic_mixing: bool = False  # True: open("train", ..., dynamic_mixing=True) redraws per epoch
    preset_defaults: dict = {}

    @abc.abstractmethod
    def open(self, split: str, root: Path, seed: int = 0) -> SourceSplit:
        """Open ``split`` (train | valid | test) under ``root``; raise DataError when absent.

        Adapters with ``supports_dynamic_mixing`` also take ``dynamic_mixing: bool = False``."""

    def default_root(self) -> Path:
        import os

        base = os.environ.get("SURF_BENCH_DATA")
        return Path(base) / self.name if base else Path.home() / ".cache" / "surf_bench" / self.name

    def is_available(self, root: Path | None = None) -> bool:
        try:
            self.open("test", Path(root) if root else self.default_root())
            return True
        except DataError:
            return False

    def fetch(self, root: Path) -> None:
        raise DataError(f"dataset '{self.name}' has no downloader; place its files under {root}")

    def example(self, root: Path) -> tuple[DatasetAdapter, Path]:
        """A tiny copy of this dataset in its real on-disk format under ``root``; returns the adapter
        to open it with and the root to open (the conformance tests open every split of it)."""
        raise NotImplementedError(
            f"dataset '{self.name}' ({type(self).__name__}) has no example(): implement "
            "DatasetAdapter.example(root) to write a tiny copy of the dataset in its on-disk format under root "
            "and return (adapter, root), so that tests/test_conformance.py can check it (docs/architecture.md)"
        )


def stack_items(split: SourceSplit, tensors: list, index, what: str) -> torch.Tensor:
    """torch.stack of a batch of items, or a DataError that names the items whose shapes differ."""
    try:
        return torch.stack(tensors)
    except RuntimeError:
        shapes = {}
        ids = split.item_ids()
        for i, tensor in zip(index, tensors, strict=True):
            shapes.setdefault(tuple(tensor.shape), ids[int(i)])
        listed = "; ".join(f"{item}: {list(shape)}" for shape, item in list(shapes.items())[:3])
        raise DataError(f"{split.spec.name}: items of one batch have {what} of different shapes ({listed}); cut "
                        "the items of a split to one length (or give the adapter a crop length)") from None


def mixture_sum(mixture: torch.Tensor, spec: DataSpec) -> torch.Tensor:
    """Sum of the sources: m for summed mixtures, K * m for averaged ones."""
    return mixture * spec.n_slots if spec.mixing == "mean" else mixture


def check_split(split: SourceSplit, where: str) -> SourceSplit:
    if len(split) == 0:
        raise DataError(f"{where}: the split is empty; check the dataset root and its file lists")
    return split
