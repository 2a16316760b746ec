"""Conformance of every registered plugin, in the spirit of ``benchopt test``: the tests are
parametrised over ``registry.methods()`` and ``registry.datasets()`` at collection time, so a new
plugin file (in ``methods/``, ``datasets/`` or on ``SURF_BENCH_PLUGIN_PATH``) is checked without
editing any test. The contracts are those of docs/architecture.md ("Methods", "Data")."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from surf_bench import config, registry
from surf_bench.data.base import DataSpec, SourceSplit, mixture_sum
from surf_bench.train import Trainer
from tests.helpers import PoisonedSplit, SourceLeak, tiny_image_split

MODALITIES = ("image", "audio")
SPLITS = ("train", "valid", "test")
OVERRIDES = {
    "image": {"train.steps": 2, "train.batch_size": 4, "net.channels": 4, "net.time_dim": 8},
    "audio": {"train.steps": 2, "train.batch_size": 4, "net.channels": 8, "net.levels": 1, "net.time_dim": 8,
              "net.n_fft": 64, "net.hop": 16, "net.slot_code": 4},
}
METHOD_CASES = [(name, modality) for name, cls in sorted(registry.methods().items()) for modality in cls.modalities]
DATASETS = sorted(registry.datasets())


# --- tiny splits ---------------------------------------------------------------------------
class TinyAudioSplit(SourceSplit):
    """Random 2-slot signals, mixture = their sum."""

    def __init__(self, n=8, n_slots=2, length=2048, seed=0):
        g = torch.Generator().manual_seed(seed)
        self._sources = 0.1 * torch.randn(n, n_slots, length, generator=g)
        self.spec = DataSpec("tiny-audio", "audio", n_slots, (length,), "sum", 16000)

    def __len__(self):
        return len(self._sources)

    def item_ids(self):
        return [f"tiny{i}" for i in range(len(self))]

    def mixture(self, i):
        return self._sources[i].sum(0)

    def sources(self, i):
        return self._sources[i]


def tiny_split(modality):
    return tiny_image_split(n_images=16, size=8) if modality == "image" else TinyAudioSplit()


# --- method checks (plain functions: the parametrised tests and the plugin test call them) ----
def build(cls, spec, seed=0, **extra):
    cfg = config.resolve("smoke", spec.modality, cls.preset_defaults, None, {**OVERRIDES[spec.modality], **extra})
    return cls(spec, cfg, generator=torch.Generator().manual_seed(seed)), cfg


def quiet(*_):
    pass


def check_declaration(cls):
    """Modalities are known ones; ``init_from`` is None or a registered method covering them."""
    assert cls.modalities and set(cls.modalities) <= set(MODALITIES), cls.modalities
    if cls.init_from is not None:
        table = registry.methods()
        assert cls.init_from in table, f"{cls.name}: init_from={cls.init_from!r} is not a registered method"
        assert set(cls.modalities) <= set(table[cls.init_from].modalities), (cls.modalities, cls.init_from)


def check_trains_and_separates(cls, modality, tmp_path):
    """(a) two real Trainer steps with a finite loss, (d) unsupervised methods on a split whose
    sources raise, (b) ``separate`` gives [B, K, *S] summing to the mixture."""
    split = tiny_split(modality)
    method, cfg = build(cls, split.spec)
    train_on = split if cls.supervised else PoisonedSplit(split)
    trainer = Trainer(method, train_on, cfg, 0, tmp_path / "train.pt", log=quiet)
    trainer.run()
    assert trainer.step == 2 and trainer.history
    assert all(math.isfinite(row["loss"]) for row in trainer.history), trainer.history
    index = torch.arange(4)
    mix = mixture_sum(split.mixtures(index), split.spec)
    est = method.separate(mix, generator=torch.Generator().manual_seed(0))
    assert tuple(est.shape) == (4, split.spec.n_slots, *split.spec.item_shape)
    assert torch.isfinite(est).all()
    error = (est.sum(1) - mix).abs().max().item()
    assert error <= 1e-4 * mix.abs().max().item(), f"estimates miss the mixture by {error}"


def check_reads_sources_iff_supervised(cls, modality, tmp_path):
    """(d) a supervised method reads the sources (so the poison catches it)."""
    if not cls.supervised:
        return  # covered by check_trains_and_separates, which trains it on the poisoned split
    split = PoisonedSplit(tiny_split(modality))
    method, cfg = build(cls, split.spec)
    with pytest.raises(SourceLeak):
        Trainer(method, split, cfg, 0, tmp_path / "leak.pt", log=quiet).run()


def one_step(trainer):
    """One training step, as Trainer.run takes it."""
    return trainer._update(trainer.cfg.train, trainer.method.net)


def check_checkpoint_round_trip(cls, modality, tmp_path):
    """(c) after one step and Trainer.save, a fresh method + trainer that resumes takes the same
    next step: the same loss, exactly."""
    split = tiny_split(modality)
    path = tmp_path / "resume.pt"
    method, cfg = build(cls, split.spec, seed=0)
    first = Trainer(method, split, cfg, 0, path, log=quiet)
    one_step(first)
    first.save()
    expected = one_step(first)
    fresh, fresh_cfg = build(cls, split.spec, seed=1)  # other weights and generator, until resumed
    second = Trainer(fresh, split, fresh_cfg, 0, path, log=quiet)
    assert second.try_resume() and second.step == 1
    assert one_step(second) == expected


def check_method(cls, modality, tmp_path):
    check_declaration(cls)
    assert modality in cls.modalities
    check_trains_and_separates(cls, modality, tmp_path)
    check_reads_sources_iff_supervised(cls, modality, tmp_path)
    check_checkpoint_round_trip(cls, modality, tmp_path)


@pytest.mark.parametrize("name,modality", METHOD_CASES, ids=[f"{n}-{m}" for n, m in METHOD_CASES])
def test_method_conforms(name, modality, tmp_path):
    check_method(registry.get_method(name), modality, tmp_path)


# --- dataset checks --------------------------------------------------------------------------
def _shape_matches(shape, item_shape) -> bool:
    return len(shape) == len(item_shape) and all(d is None or d == s for d, s in zip(item_shape, shape))


def mixture_ids(split):
    """What must stay fixed across epochs: the item ids, or, for an audio split that crops fixed
    mixtures at random per epoch (allowed by SourceSplit.set_epoch), the ids of its uncropped items."""
    if getattr(split, "crop_mode", None) == "random" and getattr(split, "crop", None) is not None:
        return [item.item_id for item in split.items]
    return split.item_ids()


def check_split(adapter, split, n_items=3):
    spec = split.spec
    assert spec.n_slots == adapter.n_slots and spec.modality == adapter.modality, spec
    assert spec.mixing in ("sum", "mean") and len(split) >= 1
    index = torch.arange(min(n_items, len(split)))
    mix, src = split.mixtures(index), split.sources_batch(index)
    assert _shape_matches(tuple(mix.shape[1:]), spec.item_shape), (mix.shape, spec.item_shape)
    assert tuple(src.shape) == (len(index), spec.n_slots, *mix.shape[1:])
    assert _shape_matches(tuple(split.mixture(0).shape), spec.item_shape)
    assert split.sources(0).shape[0] == spec.n_slots
    assert torch.isfinite(src).all() and torch.isfinite(mix).all()
    expected = src.sum(1) if spec.mixing == "sum" else src.mean(1)
    assert torch.allclose(mix, expected, atol=1e-5), f"{spec.name}: mixtures are not the {spec.mixing} of sources"
    ids = split.item_ids()
    assert len(ids) == len(split) and len(set(ids)) == len(ids), f"{spec.name}: item ids are not unique"


def check_dataset(adapter, root):
    example, root = adapter.example(root)
    assert (example.name, example.modality, example.n_slots) == (adapter.name, adapter.modality, adapter.n_slots)
    if example.offline and not example.is_available(root):
        pytest.skip(f"{adapter.name}: its offline build is not available here")
    splits = getattr(example, "splits", SPLITS)
    for name in splits:
        check_split(example, example.open(name, root))
    if "test" in splits:  # fixed by the dataset, whatever the run's seed
        assert example.open("test", root, seed=0).manifest_hash() == example.open("test", root, seed=5).manifest_hash()
    if "train" not in splits:
        return
    train = example.open("train", root, seed=0)
    assert config.DataConfig().dynamic_mixing is False and not train.dynamic_mixing
    first = mixture_ids(train)
    train.set_epoch(1)
    assert mixture_ids(train) == first, f"{adapter.name}: training mixtures change with the epoch"
    assert mixture_ids(example.open("train", root, seed=5)) == first, "training mixtures follow the run's seed"
    if example.supports_dynamic_mixing:
        dynamic = example.open("train", root, seed=1, dynamic_mixing=True)
        assert dynamic.dynamic_mixing
        check_split(example, dynamic)


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_conforms(name, tmp_path):
    check_dataset(registry.get_dataset(name), tmp_path / name)


# --- a plugin on SURF_BENCH_PLUGIN_PATH is covered with no test edited ------------------------
TOY_NAME = "toy_conformance"
TOY_METHOD = f'''"""A toy regression plugin for the conformance tests."""

from surf_bench.method import Method


class Toy(Method):
    name = "{TOY_NAME}"
    description = "toy: one-step estimates pulled to an equal share of the mixture (MSE)"
    kind = "regression"

    def training_loss(self, batch):
        est = self.regress(self.net, batch.mix, self.n_slots)
        share = (batch.mix / self.n_slots).unsqueeze(1)
        return (est - share).pow(2).mean()


METHOD = Toy
'''


def write_toy_plugin(root: Path) -> Path:
    (root / "methods").mkdir(parents=True)
    (root / "methods" / f"{TOY_NAME}.py").write_text(TOY_METHOD)
    return root


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    root = write_toy_plugin(tmp_path / "plugins")
    monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(root))
    registry.methods.cache_clear()
    yield root
    monkeypatch.undo()
    registry.methods.cache_clear()
    sys.modules.pop(f"surf_bench_plugins.methods.{TOY_NAME}", None)


def test_plugin_method_on_the_plugin_path_conforms(toy_plugin, tmp_path):
    cls = registry.get_method(TOY_NAME)
    assert set(registry.methods()) > {TOY_NAME}  # the project's methods are still there
    for modality in cls.modalities:
        check_method(cls, modality, tmp_path / modality)


def test_collection_picks_up_plugins(tmp_path):
    root = write_toy_plugin(tmp_path / "plugins")
    env = {**os.environ, "SURF_BENCH_PLUGIN_PATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", __file__],  # -q: addopts
        cwd=registry.PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"test_method_conforms[{TOY_NAME}-image]" in out.stdout
    assert f"test_method_conforms[{TOY_NAME}-audio]" in out.stdout
