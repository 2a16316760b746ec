"""Set-level FID: feature sets accumulated batch by batch (features only, never the images), then
the Frechet distance of each named set against the clean references (frechet.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .frechet import fid_from_features

REFERENCE = "reference"


class FidSets:
    """Inception features of named image sets; ``add(name, images [B, K, C, H, W])`` adds B x K images."""

    def __init__(self, features: Callable[[torch.Tensor], np.ndarray]):
        self.features = features
        self.sets: dict[str, list[np.ndarray]] = {}

    def add(self, name: str, images: torch.Tensor) -> None:
        if images.shape[0]:
            self.sets.setdefault(name, []).append(self.features(images.flatten(0, 1)))

    def count(self, name: str) -> int:
        return sum(len(f) for f in self.sets.get(name, []))

    def fid(self, name: str) -> float:
        """FID of set ``name`` against the reference set; NaN when either has fewer than 2 images."""
        if self.count(name) < 2 or self.count(REFERENCE) < 2:
            return float("nan")
        return fid_from_features(np.concatenate(self.sets[name]), np.concatenate(self.sets[REFERENCE]))
