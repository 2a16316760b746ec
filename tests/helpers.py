"""Small builders shared by the tests."""

import torch

from surf_bench import config, registry
from surf_bench.data.base import SourceSplit
from surf_bench.data.image_pairs import ImageMixtureSplit


def tiny_image_split(n_images=16, size=8, n_slots=2, seed=0, pairing="fixed", channels=1):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n_images, channels, size, size, generator=g)
    return ImageMixtureSplit("tiny", images, n_slots, seed, pairing)


def make_method(name, spec, preset="smoke", overrides=None, seed=0):
    cfg = config.resolve(preset, spec.modality, registry.get_method(name).preset_defaults, None, overrides or {})
    return registry.get_method(name)(spec, cfg, generator=torch.Generator().manual_seed(seed))


class SourceLeak(AssertionError):
    pass


class PoisonedSplit(SourceSplit):
    """Mixtures as the inner split's; reading a source raises (docs/architecture.md, "Data")."""

    def __init__(self, inner):
        self._inner = inner
        self.spec = inner.spec

    def __len__(self):
        return len(self._inner)

    def item_ids(self):
        return self._inner.item_ids()

    def mixture(self, i):
        return self._inner.mixture(i)

    def mixtures(self, index):
        return self._inner.mixtures(index)

    def sources(self, i):
        raise SourceLeak("sources read")

    def sources_batch(self, index):
        raise SourceLeak("sources read")
