"""Image mixtures of K random images, m = (x_1 + ... + x_K) / K with pixels in [0, 1] [paper demo].

Three ways to group the images (``pairing``), see docs/architecture.md "Data":
- ``disjoint`` (training, the default for every method): the images are shuffled once by the
  dataset's seed and cut into groups of K, so each image is in exactly one mixture and the set of
  N // K training mixtures never changes: what an unsupervised user has;
- ``fixed`` (valid / test): N mixtures, image i with K - 1 others, fixed by the seed, so every
  method scores the same mixtures;
- ``dynamic`` (``data.dynamic_mixing``, supervised methods only): new groups every epoch,
  deterministic in (seed, epoch); making them needs the clean images.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from .base import DataSpec, SourceSplit


def shuffled_split_indices(n: int, fractions: dict[str, float], seed: int) -> dict[str, torch.Tensor]:
    """Shuffle 0..n-1 with a fixed seed and cut it into named consecutive parts."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    out, start = {}, 0
    for name, fraction in fractions.items():
        stop = start + int(round(fraction * n))
        out[name] = order[start:stop]
        start = stop
    return out


PAIRINGS = ("disjoint", "fixed", "dynamic")


def pairing_for(split: str, dynamic_mixing: bool) -> str:
    """The pairing of an image split: disjoint (or dynamic) training pairs, fixed evaluation pairs."""
    if split != "train":
        return "fixed"
    return "dynamic" if dynamic_mixing else "disjoint"


class ImageMixtureSplit(SourceSplit):
    def __init__(self, name: str, images: torch.Tensor, n_slots: int, seed: int, pairing: str = "fixed",
                 image_ids: list[str] | None = None, labels: torch.Tensor | None = None):
        if pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, not {pairing!r}")
        if images.ndim != 4:
            raise DataError(f"{name}: images must be [N, C, H, W], got shape {tuple(images.shape)}")
        if len(images) < n_slots:
            raise DataError(f"{name}: the split has {len(images)} images, "
                            f"fewer than the {n_slots} a mixture needs")
        if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise DataError(f"{name}: pixels must be finite and in [0, 1]")
        self.images = images.float().contiguous()
        self.image_ids = image_ids or [str(i) for i in range(len(images))]
        # Class labels of the images (evaluation only: the evaluator classifier of metrics/classifier.py).
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        if self.labels is not None and self.labels.shape != (len(images),):
            raise DataError(f"{name}: {len(self.labels)} labels for {len(images)} images")
        self.spec = DataSpec(name=name, modality="image", n_slots=n_slots,
                             item_shape=tuple(images.shape[1:]), mixing="mean")
        self.seed = seed
        self.pairing = pairing
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        if self.pairing != "dynamic" and hasattr(self, "groups"):
            return
        n, k = len(self.images), self.spec.n_slots
        generator = torch.Generator().manual_seed(self.seed * 7919 + (epoch if self.pairing == "dynamic" else 0))
        order = torch.randperm(n, generator=generator)
        if self.pairing == "disjoint":
            self.groups = order[: n // k * k].view(-1, k)  # [N // K, K], every image once
            return
        # K distinct images per mixture: slot k takes order rolled by a distinct offset.
        offsets = torch.randperm(n - 1, generator=generator)[: self.spec.n_slots - 1] + 1
        columns = [order] + [order.roll(-int(o)) for o in offsets]
        self.groups = torch.stack(columns, dim=1)  # [N, K]

    @property
    def dynamic_mixing(self) -> bool:
        return self.pairing == "dynamic"

    def __len__(self) -> int:
        return len(self.groups)

    def item_ids(self) -> list[str]:
        return ["+".join(self.image_ids[int(j)] for j in group) for group in self.groups]

    def sources(self, i: int) -> torch.Tensor:
        return self.images[self.groups[i]]

    def mixture(self, i: int) -> torch.Tensor:
        return self.sources(i).mean(0)

    def sources_batch(self, index: torch.Tensor) -> torch.Tensor:
        return self.images[self.groups[index]]

    def mixtures(self, index: torch.Tensor) -> torch.Tensor:
        return self.sources_batch(index).mean(1)

    def source_labels(self, index: torch.Tensor) -> torch.Tensor | None:
        """Class labels [B, K] of the sources of items ``index`` (None when the dataset has none)."""
        return None if self.labels is None else self.labels[self.groups[index]]
