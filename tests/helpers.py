"""Small builders shared by the tests."""

import torch

from surf_bench import config, registry
from surf_bench.conformance import PoisonedSplit, SourceLeak, tiny_image_split  # noqa: F401 (shared by the tests)


def make_method(name, spec, preset="smoke", overrides=None, seed=0):
    cfg = config.resolve(preset, spec.modality, registry.get_method(name).preset_defaults, None, overrides or {})
    return registry.get_method(name)(spec, cfg, generator=torch.Generator().manual_seed(seed))
