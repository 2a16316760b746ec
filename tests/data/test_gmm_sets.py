"""The oracle datasets gmm2 / gmm3 (surf_bench/data/gmm_sources.py): offline, fixed splits whose
manifest names the prior, a cached prior fit, dynamic mixing that redraws from the prior, and the
leak-proof rule for unsupervised methods."""

import pytest
import torch

from surf_bench import config, registry
from surf_bench.data.gmm_sources import GaussianMixtureImages
from surf_bench.data.views import MixtureBatch
from surf_bench.engine.train import Trainer
from tests.helpers import PoisonedSplit

pytest.importorskip("mlxtend")

UNSUPERVISED = sorted(n for n, cls in registry.methods().items()
                      if not cls.supervised and cls.trains and "image" in cls.modalities)  # image splits below


def small(name="gmm2", k=2, **kwargs):
    return GaussianMixtureImages(name, k, **{"n_train": 64, "n_valid": 16, "n_test": 16, **kwargs})


def test_the_registered_sets_are_offline_with_k_2_and_3():
    for name, k in (("gmm2", 2), ("gmm3", 3)):
        adapter = registry.get_dataset(name)
        assert adapter.n_slots == k and adapter.offline and adapter.modality == "image"
        assert adapter.counts == {"train": 20_000, "valid": 500, "test": 500}
        assert adapter.is_available()


def test_splits_are_fixed_whatever_the_run_seed_and_differ_between_splits(tmp_path):
    adapter = small()
    a, b = adapter.open("train", tmp_path, seed=0), adapter.open("train", tmp_path, seed=5)
    assert torch.equal(a.sources_batch(torch.arange(8)), b.sources_batch(torch.arange(8)))
    assert a.manifest_hash() == b.manifest_hash()
    valid, test = adapter.open("valid", tmp_path), adapter.open("test", tmp_path)
    assert not torch.equal(valid.sources(0), test.sources(0)) and valid.manifest_hash() != test.manifest_hash()
    assert torch.allclose(test.mixture(3), test.sources(3).mean(0))
    assert test.spec.item_shape == (1, 14, 14) and not test.spec.bounded


def test_another_prior_is_another_manifest(tmp_path):
    assert small().open("test", tmp_path).manifest_hash() != small(rank=4).open("test", tmp_path).manifest_hash()


def test_the_prior_is_cached_under_the_root_and_fitted_in_memory_where_it_cannot_be(tmp_path):
    adapter = small()
    prior = adapter.prior(tmp_path)
    cached = list(tmp_path.glob("prior-*/prior.pt"))
    assert len(cached) == 1
    assert adapter.prior(tmp_path).digest() == prior.digest()
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert adapter.prior(blocked / "below").digest() == prior.digest()


def test_dynamic_mixing_redraws_from_the_prior_per_epoch(tmp_path):
    adapter = small()
    split = adapter.open("train", tmp_path, seed=0, dynamic_mixing=True)
    assert split.dynamic_mixing
    first = split.sources(0).clone()
    split.set_epoch(1)
    assert not torch.equal(first, split.sources(0))
    split.set_epoch(0)
    assert torch.equal(first, split.sources(0))
    fixed = adapter.open("train", tmp_path)
    fixed.set_epoch(3)
    assert not fixed.dynamic_mixing and torch.equal(fixed.sources(0), adapter.open("train", tmp_path).sources(0))


def test_the_split_posterior_is_the_prior_it_was_drawn_from(tmp_path):
    split = small("gmm3", 3).open("test", tmp_path)
    post = split.exact_posterior()
    assert post.n_slots == 3 and post.prior.digest() == split.prior.digest()
    y = split.mixtures(torch.arange(4)).flatten(1).double() * 3
    samples = post.sample(y, 2, torch.Generator().manual_seed(0))
    assert torch.allclose(samples.sum(2), y.unsqueeze(1).expand(-1, 2, -1), atol=1e-9)


@pytest.mark.parametrize("name", UNSUPERVISED)
def test_unsupervised_methods_never_read_the_oracle_sources(name, tmp_path):
    split = PoisonedSplit(small().open("train", tmp_path))
    cls = registry.get_method(name)
    cfg = config.resolve("smoke", "image", cls.preset_defaults, None,
                         {"train.steps": 2, "train.batch_size": 4, "net.channels": 8})
    trainer = Trainer(cls(split.spec, cfg), split, cfg, 0, tmp_path / "ck.pt", log=lambda *_: None)
    trainer.run()
    assert trainer.step == 2 and isinstance(trainer.sampler.next(), MixtureBatch)
