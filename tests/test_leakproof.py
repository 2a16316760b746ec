"""Unsupervised methods never read clean sources: a poisoned split raises if they do."""

import pytest
import torch

from surf_bench import config, registry
from surf_bench.data.base import SourceSplit
from surf_bench.data.views import MixtureBatch
from surf_bench.train import Trainer
from tests.helpers import tiny_image_split

UNSUPERVISED = ["mixit", "remixit", "self_remixing", "surf_rm", "surf_sr"]


class SourceLeak(AssertionError):
    pass


class PoisonedSplit(SourceSplit):
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


def _train(name, tmp_path):
    split = PoisonedSplit(tiny_image_split(n_images=16, pairing="dynamic"))
    cls = registry.get_method(name)
    cfg = config.resolve("smoke", "image", cls.preset_defaults, None,
                         {"train.steps": 2, "train.batch_size": 4, "net.channels": 8})
    method = cls(split.spec, cfg)
    trainer = Trainer(method, split, cfg, 0, tmp_path / "ck.pt", log=lambda *_: None)
    trainer.run()
    return trainer


@pytest.mark.parametrize("name", UNSUPERVISED)
def test_unsupervised_methods_train_without_touching_sources(name, tmp_path):
    assert not registry.get_method(name).supervised
    trainer = _train(name, tmp_path)
    assert trainer.step == 2
    assert isinstance(trainer.sampler.next(), MixtureBatch)


def test_mixture_batches_have_no_sources_field():
    batch = MixtureBatch(mix=torch.zeros(2, 3))
    with pytest.raises(AttributeError):
        batch.sources  # noqa: B018
    with pytest.raises((AttributeError, TypeError)):
        batch.sources = torch.zeros(1)


@pytest.mark.parametrize("name", ["pit", "floss"])
def test_the_poison_catches_supervised_methods(name, tmp_path):
    with pytest.raises(SourceLeak):
        _train(name, tmp_path)
