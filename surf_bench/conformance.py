"""The conformance suite of plugins (docs/plugins.md, "The conformance suite"), in the spirit of
``benchopt test``: plain functions that check a Method class or a DatasetAdapter against the
contracts of docs/plugins.md. tests/test_conformance.py runs them on every registered plugin, and
``surf-bench check PATH`` on the plugins of one folder. A failed rule raises ConformanceError (an
AssertionError) with what broke; a dataset that cannot be built here raises Skipped.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from . import config, registry
from .data.base import DataSpec, SourceSplit, mixture_sum
from .data.image_pairs import ImageMixtureSplit
from .engine.contract import check_estimates
from .engine.train import Trainer
from .method import KINDS


class ConformanceError(AssertionError):
    """A plugin broke a rule of its contract."""


class Skipped(Exception):
    """A check that cannot run here (e.g. an offline build whose tools are missing)."""


class SourceLeak(ConformanceError):
    """A split's sources were read by a method that must only see mixtures."""


class PoisonedSplit(SourceSplit):
    """Mixtures as the inner split's; reading a source raises SourceLeak (docs/architecture.md, "Data")."""

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


def tiny_image_split(n_images=16, size=8, n_slots=2, seed=0, pairing="fixed", channels=1):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n_images, channels, size, size, generator=g)
    return ImageMixtureSplit("tiny", images, n_slots, seed, pairing)


MODALITIES = ("image", "audio")
SPLITS = ("train", "valid", "test")
OVERRIDES = {
    "image": {"train.steps": 2, "train.batch_size": 4, "net.channels": 4, "net.time_dim": 8},
    "audio": {"train.steps": 2, "train.batch_size": 4, "net.channels": 8, "net.levels": 1, "net.time_dim": 8,
              "net.n_fft": 64, "net.hop": 16, "net.slot_code": 4},
}


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


def _require(condition, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


# --- method checks ---------------------------------------------------------------------------
def build(cls, spec, seed=0, **extra):
    cfg = config.resolve("smoke", spec.modality, cls.preset_defaults, None, {**OVERRIDES[spec.modality], **extra})
    return cls(spec, cfg, generator=torch.Generator().manual_seed(seed)), cfg


def quiet(*_):
    pass


def check_declaration(cls) -> None:
    """Modalities are known ones; ``kind`` is regression or flow; ``init_from`` is None or a
    registered method covering them."""
    _require(cls.kind in KINDS, f"{cls.name}: kind must be one of {KINDS}, not {cls.kind!r}")
    _require(cls.modalities and set(cls.modalities) <= set(MODALITIES),
             f"{cls.name}: modalities must be a non-empty subset of {MODALITIES}, not {cls.modalities!r}")
    if cls.init_from is not None:
        table = registry.methods()
        _require(cls.init_from in table, f"{cls.name}: init_from={cls.init_from!r} is not a registered method")
        _require(set(cls.modalities) <= set(table[cls.init_from].modalities),
                 f"{cls.name}: init_from={cls.init_from!r} does not cover its modalities {cls.modalities}")


def check_trains_and_separates(cls, modality, tmp_path) -> None:
    """(a) two real Trainer steps with a finite loss, (d) unsupervised methods on a split whose
    sources raise, (b) ``separate`` gives [B, K, *S] summing to the mixture."""
    split = tiny_split(modality)
    method, cfg = build(cls, split.spec)
    train_on = split if cls.supervised else PoisonedSplit(split)
    trainer = Trainer(method, train_on, cfg, 0, tmp_path / "train.pt", log=quiet)
    try:
        trainer.run()
    except SourceLeak:
        raise ConformanceError(f"{cls.name}: an unsupervised method read the sources (it may see mixtures "
                               "only; set supervised = True if it needs them)") from None
    _require(trainer.step == 2 and trainer.history, f"{cls.name}: two training steps did not run")
    _require(all(math.isfinite(row["loss"]) for row in trainer.history),
             f"{cls.name}: training_loss() gave a non-finite loss ({trainer.history})")
    mix = mixture_sum(split.mixtures(torch.arange(4)), split.spec)
    est = method.separate(mix, generator=torch.Generator().manual_seed(0))
    check_estimates(method, est, mix, split.spec.n_slots, f"the conformance check ({modality})")


def check_reads_sources_iff_supervised(cls, modality, tmp_path) -> None:
    """(d) a supervised method reads the sources (so the poison catches it)."""
    if not cls.supervised:
        return  # covered by check_trains_and_separates, which trains it on the poisoned split
    split = PoisonedSplit(tiny_split(modality))
    method, cfg = build(cls, split.spec)
    try:
        Trainer(method, split, cfg, 0, tmp_path / "leak.pt", log=quiet).run()
    except SourceLeak:
        return
    raise ConformanceError(f"{cls.name}: declares supervised = True but never reads the sources")


def one_step(trainer):
    """One training step, as Trainer.run takes it."""
    return trainer._update(trainer.cfg.train, trainer.method.net)


def check_checkpoint_round_trip(cls, modality, tmp_path) -> None:
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
    _require(second.try_resume() and second.step == 1, f"{cls.name}: a saved checkpoint did not resume at step 1")
    _require(one_step(second) == expected,
             f"{cls.name}: a resumed run took another step than the uninterrupted one (state outside modules() "
             "or an unseeded random draw?)")


def other_flow_settings(flow_cfg) -> dict:
    """Values other than ``flow_cfg``'s of the flow settings a regression method must not read
    (method.reads_setting)."""
    return {"flow.level_norm": not flow_cfg.level_norm,
            "flow.loss": "velocity" if flow_cfg.loss == "x1" else "x1",
            "flow.t_dist": "beta_low" if flow_cfg.t_dist == "logit_normal" else "logit_normal",
            "flow.t0_prob": 0.25 if flow_cfg.t0_prob == 0.5 else 0.5,
            "flow.sampler": "euler" if flow_cfg.sampler == "midpoint" else "midpoint",
            "flow.nfe": flow_cfg.nfe + 1, "flow.nfe_curve": (1, flow_cfg.nfe + 1)}


def check_regression_ignores_flow_settings(cls, modality, tmp_path) -> None:
    """A regression method reads no flow setting but the noise end's, so its cells stay reusable when
    a flow default moves (method.reads_setting): with other values of the rest, two training steps
    take the same losses and ``separate()`` gives the same estimates, exactly."""
    if cls.kind != "regression":
        return
    split = tiny_split(modality)
    mix = mixture_sum(split.mixtures(torch.arange(4)), split.spec)
    other = other_flow_settings(build(cls, split.spec)[1].flow)
    runs = []
    for i, extra in enumerate(({}, other)):
        torch.manual_seed(0)  # the same initial weights
        method, cfg = build(cls, split.spec, **{"train.sync_every": 1, **extra})
        losses = []
        if cls.trains:
            trainer = Trainer(method, split, cfg, 0, tmp_path / f"flow-settings{i}.pt", log=quiet)
            losses = [one_step(trainer) for _ in range(2)]
            _require(all(isinstance(loss, float) for loss in losses), f"{cls.name}: a training step gave no loss")
        with torch.no_grad():
            estimates = method.separate(mix, generator=torch.Generator().manual_seed(0))
        runs.append((losses, estimates))
    _require(runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1]),
             f"{cls.name}: kind = 'regression' but its training or separate() changed with flow settings other "
             f"than the noise end's ({', '.join(other)}); declare kind = 'flow' if it trains a flow")


def check_separates_untrained(cls, modality) -> None:
    """A method that learns nothing (``trains = False``): no network, and ``separate`` by the contract."""
    split = tiny_split(modality)
    method, _ = build(cls, split.spec)
    _require(not list(method.net.parameters()), f"{cls.name}: trains = False but it built a network with weights")
    mix = mixture_sum(split.mixtures(torch.arange(4)), split.spec)
    est = method.separate(mix, generator=torch.Generator().manual_seed(0))
    check_estimates(method, est, mix, split.spec.n_slots, f"the conformance check ({modality})")


def check_method(cls, modality, tmp_path: Path) -> None:
    """Every check of a method plugin on one modality (raises ConformanceError)."""
    check_declaration(cls)
    _require(modality in cls.modalities, f"{cls.name}: does not declare the modality {modality!r}")
    if not cls.trains:
        _require(not cls.supervised and cls.init_from is None and not cls.uses_teacher,
                 f"{cls.name}: a method that learns nothing cannot be supervised, start from a cell or have a teacher")
        check_separates_untrained(cls, modality)
        check_regression_ignores_flow_settings(cls, modality, tmp_path)
        return
    check_trains_and_separates(cls, modality, tmp_path)
    check_reads_sources_iff_supervised(cls, modality, tmp_path)
    check_checkpoint_round_trip(cls, modality, tmp_path)
    check_regression_ignores_flow_settings(cls, modality, tmp_path)


# --- dataset checks --------------------------------------------------------------------------
def _shape_matches(shape, item_shape) -> bool:
    return len(shape) == len(item_shape) and all(d is None or d == s for d, s in zip(item_shape, shape, strict=True))


def mixture_ids(split):
    """What must stay fixed across epochs: the item ids, or, for an audio split that crops fixed
    mixtures at random per epoch (allowed by SourceSplit.set_epoch), the ids of its uncropped items."""
    if getattr(split, "crop_mode", None) == "random" and getattr(split, "crop", None) is not None:
        return [item.item_id for item in split.items]
    return split.item_ids()


def check_split(adapter, split, n_items=3) -> None:
    spec = split.spec
    name = spec.name
    _require(spec.n_slots == adapter.n_slots and spec.modality == adapter.modality,
             f"{name}: the split's spec ({spec.modality}, K={spec.n_slots}) is not the adapter's "
             f"({adapter.modality}, K={adapter.n_slots})")
    _require(spec.mixing in ("sum", "mean"), f"{name}: DataSpec.mixing must be 'sum' or 'mean'")
    _require(len(split) >= 1, f"{name}: the split is empty")
    index = torch.arange(min(n_items, len(split)))
    mix, src = split.mixtures(index), split.sources_batch(index)
    _require(_shape_matches(tuple(mix.shape[1:]), spec.item_shape),
             f"{name}: mixtures have shape {tuple(mix.shape[1:])}, the spec says {spec.item_shape}")
    _require(tuple(src.shape) == (len(index), spec.n_slots, *mix.shape[1:]),
             f"{name}: sources_batch gives {tuple(src.shape)}, expected [B, K, *S]")
    _require(_shape_matches(tuple(split.mixture(0).shape), spec.item_shape), f"{name}: mixture(0) has another shape")
    _require(split.sources(0).shape[0] == spec.n_slots, f"{name}: sources(0) does not have K slots")
    _require(torch.isfinite(src).all() and torch.isfinite(mix).all(), f"{name}: non-finite sources or mixtures")
    expected = src.sum(1) if spec.mixing == "sum" else src.mean(1)
    _require(torch.allclose(mix, expected, atol=1e-5), f"{name}: mixtures are not the {spec.mixing} of sources")
    ids = split.item_ids()
    _require(len(ids) == len(split) and len(set(ids)) == len(ids), f"{name}: item ids are not one unique id per item")


def check_dataset(adapter, root: Path) -> None:
    """Every check of a dataset plugin on its example() copy under root (raises ConformanceError or Skipped)."""
    try:
        example, root = adapter.example(root)
    except NotImplementedError as exc:
        raise ConformanceError(str(exc)) from None
    _require((example.name, example.modality, example.n_slots) == (adapter.name, adapter.modality, adapter.n_slots),
             f"{adapter.name}: example() returned an adapter with another name, modality or K")
    if example.offline and not example.is_available(root):
        raise Skipped(f"{adapter.name}: its offline build is not available here")
    splits = getattr(example, "splits", SPLITS)
    for name in splits:
        check_split(example, example.open(name, root))
    if "test" in splits:
        hashes = {example.open("test", root, seed=seed).manifest_hash() for seed in (0, 5)}
        _require(len(hashes) == 1,
                 f"{adapter.name}: the test split changes with the run's seed (it must be fixed by the dataset)")
    if "train" not in splits:
        return
    train = example.open("train", root, seed=0)
    _require(not train.dynamic_mixing, f"{adapter.name}: the training split is dynamic without dynamic_mixing=True")
    first = mixture_ids(train)
    train.set_epoch(1)
    _require(mixture_ids(train) == first, f"{adapter.name}: training mixtures change with the epoch")
    _require(mixture_ids(example.open("train", root, seed=5)) == first,
             f"{adapter.name}: training mixtures follow the run's seed (they must be a fixed set)")
    if example.supports_dynamic_mixing:
        dynamic = example.open("train", root, seed=1, dynamic_mixing=True)
        _require(dynamic.dynamic_mixing, f"{adapter.name}: open(..., dynamic_mixing=True) gave a fixed split")
        check_split(example, dynamic)


# --- a folder of plugins ---------------------------------------------------------------------
def check_folder(folder: Path, work: Path, say=print) -> int:
    """Run the suite on the plugins of ``folder`` (its methods/ and datasets/), with ``folder`` on
    the plugin path; say one line per plugin and modality; return the number of failures (a plugin
    file that fails to load counts as one)."""
    import os

    folder = Path(folder).resolve()
    if not any((folder / kind).is_dir() for kind in ("methods", "datasets")):
        from .errors import UsageError

        raise UsageError(f"{folder} holds no methods/ or datasets/ folder; point `surf-bench check` at the folder "
                         "that contains them (docs/plugins.md)")
    previous = os.environ.get("SURF_BENCH_PLUGIN_PATH")
    os.environ["SURF_BENCH_PLUGIN_PATH"] = os.pathsep.join(p for p in (str(folder), previous) if p)
    registry.reload()
    failures = 0
    try:
        cases = []
        for kind, table in (("methods", registry.methods()), ("datasets", registry.datasets())):
            cases += [(kind, name, plugin) for name, plugin in sorted(table.items())
                      if registry.plugin_file(kind, name).resolve().is_relative_to(folder)]
        for kind, broken in registry.broken_plugins().items():
            for path, why in broken.items():
                if Path(path).resolve().is_relative_to(folder):
                    failures += 1
                    say(f"FAIL {kind[:-1]} file {path}: {why}")
        if not cases and not failures:
            say(f"no plugins in {folder}")
        for kind, name, plugin in cases:
            modalities = plugin.modalities if kind == "methods" else (plugin.modality,)
            for modality in modalities:
                try:
                    if kind == "methods":
                        check_method(plugin, modality, work / name / modality)
                    else:
                        check_dataset(plugin, work / name)
                    say(f"ok   {kind[:-1]} {name} ({modality})")
                except Skipped as exc:
                    say(f"skip {kind[:-1]} {name} ({modality}): {exc}")
                except Exception as exc:  # a plugin's own failure is a finding, not a crash of the check
                    failures += 1
                    say(f"FAIL {kind[:-1]} {name} ({modality}): {type(exc).__name__}: {' '.join(str(exc).split())}")
    finally:
        if previous is None:
            os.environ.pop("SURF_BENCH_PLUGIN_PATH", None)
        else:
            os.environ["SURF_BENCH_PLUGIN_PATH"] = previous
        registry.reload()
    return failures
