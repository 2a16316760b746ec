"""Unsupervised methods never read clean sources: a poisoned split raises if they do."""

import pytest
import torch

from surf_bench import config, registry
from surf_bench.data.views import MixtureBatch
from surf_bench.engine.train import Trainer
from tests.helpers import PoisonedSplit, SourceLeak, tiny_image_split

UNSUPERVISED = sorted(n for n, cls in registry.methods().items()
                      if not cls.supervised and cls.trains and "image" in cls.modalities)  # image splits below
SUPERVISED = sorted(n for n, cls in registry.methods().items() if cls.supervised)


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


@pytest.mark.parametrize("name", SUPERVISED)
def test_the_poison_catches_supervised_methods(name, tmp_path):
    with pytest.raises(SourceLeak):
        _train(name, tmp_path)
