"""Image mixtures of K random images, m = (x_1 + ... + x_K) / K with pixels in [0, 1] [paper demo].

Train splits redraw their pairs every epoch (dynamic mixing, deterministic in (seed, epoch));
evaluation splits keep the pairs fixed by the seed, so every method scores the same mixtures.
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


class ImageMixtureSplit(SourceSplit):
    def __init__(self, name: str, images: torch.Tensor, n_slots: int, seed: int, dynamic: bool,
                 image_ids: list[str] | None = None):
        if images.ndim != 4:
            raise DataError(f"{name}: images must be [N, C, H, W], got shape {tuple(images.shape)}")
        if len(images) < n_slots:
            raise DataError(f"{name}: the split has {len(images)} images, "
                            f"fewer than the {n_slots} a mixture needs")
        if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise DataError(f"{name}: pixels must be finite and in [0, 1]")
        self.images = images.float().contiguous()
        self.image_ids = image_ids or [str(i) for i in range(len(images))]
        self.spec = DataSpec(name=name, modality="image", n_slots=n_slots,
                             item_shape=tuple(images.shape[1:]), mixing="mean")
        self.seed = seed
        self.dynamic = dynamic
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        if not self.dynamic and hasattr(self, "groups"):
            return
        n = len(self.images)
        generator = torch.Generator().manual_seed(self.seed * 7919 + (epoch if self.dynamic else 0))
        order = torch.randperm(n, generator=generator)
        # K distinct images per mixture: slot k takes order rolled by a distinct offset.
        offsets = torch.randperm(n - 1, generator=generator)[: self.spec.n_slots - 1] + 1
        columns = [order] + [order.roll(-int(o)) for o in offsets]
        self.groups = torch.stack(columns, dim=1)  # [N, K]

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
