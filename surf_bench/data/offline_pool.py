"""Base of the offline audio sets that build themselves on first use (speech2-mini, fuss4-mini).

A set is a pool of clips per split, written once into ``<root>/v<version>/`` by an atomic cached
build (surf_bench.data.manifest.cached_build), and a recipe that mixes them: evaluation splits
read a fixed recipe from ``<split>_items.csv``; the train split's recipe is drawn once from the
adapter's ``train_mix_seed`` (a fixed set of training mixtures, whatever the run's seed), or, with
``dynamic_mixing`` (supervised methods only), anew every epoch from (run seed, epoch). Subclasses
give ``params``, ``build`` and ``train_recipe``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..errors import DataError
from . import espeak
from .base import DatasetAdapter
from .manifest import cached_build, hash_lines
from .pool_mix import PoolMixSplit, Recipe, read_pool, read_recipe


class OfflinePoolAdapter(DatasetAdapter):
    modality = "audio"
    offline = True
    version = "1"  # bump in the subclass whenever its generator changes
    supports_dynamic_mixing = True
    train_mix_seed = 0  # the seed of the fixed training mixtures (a property of the dataset)
    default_layout: dict = {}

    def __init__(self, seconds: float = 2.0, rate: int = 16000, layout: dict | None = None):
        self.seconds, self.rate = seconds, rate
        self.layout = layout or self.default_layout

    @property
    def length(self) -> int:
        return int(round(self.seconds * self.rate))

    def params(self) -> dict:
        return {"seconds": self.seconds, "rate": self.rate, "layout": {k: list(v) for k, v in self.layout.items()}}

    def build(self, folder: Path) -> None:
        raise NotImplementedError

    def train_recipe(self, pool, seed: int) -> Callable[[int], Recipe]:
        """epoch -> the recipe of the train split's mixtures for that epoch."""
        raise NotImplementedError

    def folder(self, root: Path) -> Path:
        return cached_build(Path(root) / f"v{self.version}", self.version, self.params(), self.build)

    def tag(self) -> str:
        return f"{self.name}/v{self.version}/{hash_lines([json.dumps(self.params(), sort_keys=True)])}"

    def open(self, split: str, root: Path | None = None, seed: int = 0, dynamic_mixing: bool = False) -> PoolMixSplit:
        if split not in self.layout:
            raise DataError(f"{self.name} has splits {', '.join(self.layout)}, not '{split}'")
        folder = self.folder(Path(root) if root else self.default_root())
        pool = read_pool(folder, split, self.rate, self.length)
        name = f"{self.name}/{split}"
        if split == "train":
            draw = self.train_recipe(pool, seed if dynamic_mixing else self.train_mix_seed)
            recipe = draw if dynamic_mixing else draw(0)
        else:
            recipe = read_recipe(folder / f"{split}_items.csv", self.n_slots, len(pool.rows))
        return PoolMixSplit(name, pool, self.n_slots, self.rate, recipe, self.tag())

    def is_available(self, root=None) -> bool:
        root = Path(root) if root else self.default_root()
        return (root / f"v{self.version}" / "build_info.json").is_file() or espeak.available()

    def fetch(self, root: Path) -> None:
        self.folder(Path(root))
