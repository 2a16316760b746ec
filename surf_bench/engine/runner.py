"""Run one cell: train it (or reuse its model), then score it on one split. Orchestration only;
see docs/architecture.md, "The cell".

1. resolve: method, adapter, config, the cell's identity (variant included) and folder;
2. reuse: a finished score of the asked split is returned after checking its settings;
3. train, under the cell's lock: resume from ``checkpoint.pt`` or start (from the init cell's
   model when the method has ``init_from``; a busy init cell is waited for, never trained twice);
   a cell whose ``model.pt`` exists is not trained again;
4. score on the split (``test``: metrics.json + items.csv; ``valid``: metrics.valid.json +
   items.valid.csv). A new model.pt and train_log.csv are written together with the score, so a
   failed ``--force`` run leaves every old file in place; a forced retrain then drops the other
   splits' scores, which belonged to the old model.

Every failure a user can cause leaves as a :mod:`surf_bench.errors` exception naming the file or
setting and what to do; finished results are never touched by a failed run.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout

from .. import config as config_mod
from .. import registry
from ..config import RUNTIME_KEYS, config_differences, describe_differences
from ..data.base import mixture_sum
from ..data.splits import open_split
from ..errors import CellBusy, CheckpointError, DataError, SurfBenchError, UsageError, short_error
from ..files import (
    atomic_write_many,
    ensure_writable,
    file_sha256,
    json_bytes,
    load_json,
    load_torch,
    remove_stale_temporaries,
    torch_bytes,
)
from ..method import reads_setting
from . import distributed
from .cells import (  # CellRequest and INIT_WAIT_SECONDS are re-exported: `from surf_bench.engine.runner import ...`
    INHERITED_KEYS,
    INHERITED_SECTIONS,
    INIT_WAIT_SECONDS,
    SCORING_KEYS,
    SPLITS,
    Cell,
    CellRequest,
    check_layout,
    check_seed,
    check_split_name,
    init_request,
    items_name,
    metrics_name,
    variant_name,
)
from .checkpoint import TRAINING_SECTIONS
from .contract import check_separates
from .criterion import remix_consistency
from .evaluate import evaluate
from .fingerprint import differences as fingerprint_differences
from .fingerprint import fingerprint
from .provenance import code_version, device_description, package_versions
from .threads import per_process, set_threads
from .train import Trainer


@dataclass
class Resolved:
    request: CellRequest
    method_cls: type
    adapter: object
    cfg: config_mod.RunConfig
    cell: Cell
    directory: Path
    root: Path  # the dataset root
    device: str


def pick_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name} was asked for but torch sees no CUDA GPU "
                             "(use --device cpu or auto)")
        index = name.partition(":")[2]
        count = torch.cuda.device_count()
        if index and (not index.isdigit() or int(index) >= count):
            valid = ", ".join(f"cuda:{i}" for i in range(count))
            raise UsageError(f"--device {name}: torch sees {count} CUDA GPU(s), valid: cuda, {valid}")
        return name
    raise UsageError(f"unknown device '{name}'. Valid: auto, cpu, cuda, cuda:N")


def resolve_cell(request: CellRequest) -> Resolved:
    """Method, adapter, config and cell of a request; every bad name or setting is a UsageError."""
    check_split_name(request.split)
    check_seed(request.seed)
    method_cls = registry.get_method(request.method)
    adapter = registry.get_dataset(request.dataset)
    modalities = getattr(method_cls, "modalities", ("image", "audio"))
    if adapter.modality not in modalities:
        raise UsageError(f"method '{request.method}' does not support {adapter.modality} datasets "
                         f"(it supports {', '.join(modalities)})")
    def resolve(overrides: dict):
        return config_mod.resolve(request.preset, adapter.modality, method_cls.preset_defaults,
                                  adapter.preset_defaults, overrides)

    cfg = resolve(request.overrides)
    if request.data_root:
        if Path(request.data_root).exists() and not Path(request.data_root).is_dir():
            raise UsageError(f"--data-root {request.data_root} is a file; give the folder that holds the "
                             f"dataset's files")
        cfg.data.root = request.data_root
    if cfg.data.dynamic_mixing:
        if not method_cls.supervised:
            raise UsageError(f"data.dynamic_mixing=true makes new training mixtures from clean sources, which the "
                             f"unsupervised method '{request.method}' cannot have; drop it (unsupervised methods "
                             "train on the dataset's fixed mixtures)")
        if not getattr(adapter, "supports_dynamic_mixing", False):
            raise UsageError(f"dataset '{request.dataset}' has fixed training mixtures only; drop "
                             "data.dynamic_mixing")
    variant = variant_name(cfg.to_dict(), resolve({}).to_dict(), request.variant, method_cls.kind)
    cell = Cell(request.dataset, request.method, request.preset, variant, request.seed)
    check_layout(request.out, cell)
    root = Path(cfg.data.root) if cfg.data.root else adapter.default_root()
    return Resolved(request, method_cls, adapter, cfg, cell, cell.path(request.out), root, pick_device(request.device))


def make_deterministic(device: str) -> None:
    """Same cell, same seed, same metrics. On CPU torch's deterministic algorithms cost next to
    nothing; on CUDA they can be slow, so only cuDNN autotuning (which picks kernels by timing) is
    turned off there."""
    if device == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = False


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def check_scored_items(split, n_items: int, batch: int = 64) -> None:
    """The items a score will read are finite (mixtures and references): a NaN in the test split is a
    data error found before training, naming the item."""
    count = len(split) if n_items in (0, None) else min(n_items, len(split))
    ids = split.item_ids()
    for start in range(0, count, batch):
        index = torch.arange(start, min(count, start + batch))
        for what, values in (("mixture", split.mixtures(index)), ("sources", split.sources_batch(index))):
            bad = ~torch.isfinite(values.flatten(1)).all(1)
            if bad.any():
                item = ids[int(index[int(bad.nonzero()[0])])]
                raise DataError(f"{split.spec.name}: item {item} has NaN or infinite {what}; fix or drop it before "
                                "training (the score would fail on it)")


def check_specs(name: str, adapter, train_split, eval_split) -> None:
    """Train and evaluation items must agree with each other and with the adapter (slots, shape)."""
    train, other = train_split.spec, eval_split.spec
    if train.n_slots != adapter.n_slots or other.n_slots != adapter.n_slots:
        raise DataError(f"{name}: the adapter declares K={adapter.n_slots} slots but its splits have "
                        f"train K={train.n_slots}, {other.name} K={other.n_slots}")
    if train.modality != other.modality or train.modality != adapter.modality:
        raise DataError(f"{name}: the adapter is {adapter.modality} but its splits are {train.modality} / "
                        f"{other.modality}")
    rank_differs = len(train.item_shape) != len(other.item_shape)
    channels_differ = train.modality == "image" and train.item_shape[:1] != other.item_shape[:1]
    if None not in other.item_shape and (rank_differs or channels_differ):
        raise DataError(f"{name}: train items have shape {tuple(train.item_shape)} but {other.name} items "
                        f"{tuple(other.item_shape)}; the files under the dataset root do not match")


@contextlib.contextmanager
def cell_lock(directory: Path, wait: float = 0.0, log=print):
    """One process at a time per cell. ``wait`` > 0 waits that long for a busy cell (init cells).
    Under torchrun rank 0 holds the lock for all ranks, which write nothing."""
    if not distributed.world().writer:
        yield
        return
    ensure_writable(directory)
    lock = FileLock(str(directory / ".lock"))
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if wait <= 0:
                raise
            log(f"waiting for another process to finish {directory} (up to {wait:.0f} s)")
            lock.acquire(timeout=wait)
    except Timeout:
        waited = f" after waiting {wait:.0f} s" if wait > 0 else ""
        raise CellBusy(f"another process is running this cell ({directory}){waited}; wait for it to finish, or "
                       "stop it (a stopped run resumes from its last checkpoint)") from None
    except OSError as exc:
        raise SurfBenchError(f"cannot lock {directory / '.lock'} ({exc.strerror or exc}); choose another "
                             "--out") from None
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        remove_stale_temporaries(directory)
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        _remove_if_empty(directory)
        lock.release()


def _remove_if_empty(directory: Path) -> None:
    """A run that failed before writing anything leaves no folder holding only its lock, nor the
    empty <dataset>/<method>/<preset>/<variant> folders above it."""
    with contextlib.suppress(OSError):
        if {p.name for p in directory.iterdir()} <= {".lock"}:
            (directory / ".lock").unlink(missing_ok=True)
            directory.rmdir()
            for parent in list(directory.parents)[:4]:  # variant, preset, method, dataset
                if any(parent.iterdir()):
                    break
                parent.rmdir()


def _finished_result(metrics_path: Path, r: Resolved, log) -> dict:
    """The results of a finished cell, after checking they were computed with this config, this
    plugin code and this data (docs/architecture.md, "Results": "Reuse")."""
    cfg, directory, split = r.cfg, r.directory, r.request.split
    try:
        previous = load_json(metrics_path)
    except SurfBenchError:
        raise SurfBenchError(f"{metrics_path} is unreadable; run again with --force to recompute this "
                             "cell") from None
    provenance = previous.get("provenance") or {}
    old_config = provenance.get("config")
    if old_config:
        differences = config_differences(old_config, cfg.to_dict(), keep=partial(reads_setting, r.method_cls.kind))
        if differences:
            raise UsageError(f"cell {directory} already finished with other settings "
                             f"({describe_differences(differences)}); add --force to replace its results, "
                             "or name another --variant")
    recorded = provenance.get("fingerprint")
    if recorded:
        manifests = {"train": _open_train(r).manifest_hash(),
                     split: open_split(r.adapter, r.cell.dataset, split, r.root, r.cell.seed,
                                       seconds=cfg.data.seconds).manifest_hash()}
        stale = fingerprint_differences(recorded, fingerprint(r.cell.method, r.cell.dataset, manifests),
                                        ("train", split))
        if stale:
            raise UsageError(f"the {split} score of {directory} is not the score of this code and data: "
                             f"{'; '.join(stale)}; {_stale_choices(stale, split)}")
    _note_engine(provenance.get("train_code") or provenance.get("code"), "trained", directory, log)
    log(f"cell already finished: {metrics_path} (use --force to run it again)")
    return previous


def _stale_choices(stale: list[str], split: str) -> str:
    """What to do about a stale result, for the one-line refusal."""
    if all(f"the {split} split's data" in line for line in stale):
        return (f"--rescore scores model.pt on the {split} data now there, --force retrains, --variant NAME keeps "
                "the old cell beside a new one")
    return ("--force retrains, --variant NAME trains a new cell beside the old one, --rescore scores model.pt "
            "again (when only scoring code changed)")


def _note_engine(recorded: dict | None, what: str, directory: Path, log) -> None:
    """One line when a reused cell was computed by another engine commit than this one."""
    if not recorded:
        return
    now = code_version()
    then_commit, now_commit = recorded.get("git_commit"), now.get("git_commit")
    if then_commit and now_commit and (then_commit != now_commit or recorded.get("git_dirty")):
        dirty = " with uncommitted changes" if recorded.get("git_dirty") else ""
        log(f"note: {directory} was {what} by engine commit {then_commit[:10]}{dirty}; this is {now_commit[:10]}")


# --- 1. the cell a method starts from ---------------------------------------------------------
def _init_state(r: Resolved, log) -> tuple[dict, dict]:
    """The weights of the init cell (``init_from`` for the same dataset, preset and seed, with the
    request's inherited overrides: cells.init_request): its model.pt, trained first when missing."""
    source = r.method_cls.init_from
    request = r.request
    init_cell = init_request(request, source)
    init = resolve_cell(init_cell)
    model_path = init.directory / "model.pt"
    retrain = (f"retrain it with `surf-bench run --method {source} --dataset {request.dataset} --preset "
               f"{request.preset} --seed {request.seed} --out {request.out} --force` and the same --set net.* "
               "options, or pass --set unsup.mixit_init=false")
    present, scored = distributed.broadcast_object((model_path.is_file(), any(init.directory.glob("metrics*.json"))))
    if not present:
        if scored:
            raise CheckpointError(f"{request.method} starts from the {source} checkpoint {model_path}, which is "
                                  f"missing although that cell is finished; {retrain}")
        log(f"{request.method} starts from the {source} cell; training it first ({init.directory})")
        train_cell(init_cell, log=log, wait=INIT_WAIT_SECONDS)
    try:
        state = load_torch(model_path)
        if not isinstance(state, dict) or "net" not in state:
            raise ValueError("it holds no 'net' weights")
    except ValueError as exc:
        raise CheckpointError(f"the {source} checkpoint {model_path} is unreadable ({exc}); {retrain}") from None
    trained_on = state.get("dataset")
    if trained_on != request.dataset:
        raise CheckpointError(f"the {source} checkpoint {model_path} was trained on '{trained_on}', not "
                              f"'{request.dataset}': it cannot initialise {request.method} here; {retrain}")
    differences = [d for d in config_differences(state.get("config") or {}, r.cfg.to_dict())
                   if d.partition(":")[0] in INHERITED_KEYS or d.partition(".")[0] in INHERITED_SECTIONS]
    if differences:
        what = "network" if all(d.startswith("net.") for d in differences) else "network, data or noise end"
        raise CheckpointError(f"the {source} checkpoint {model_path} was trained with another {what} "
                              f"({describe_differences(differences)}); use the same --set options "
                              f"as that cell, or {retrain}")
    if request.init_variant is None:  # a variant named by its settings: it must still have them all
        stale = config_differences(state.get("config") or {}, init.cfg.to_dict(), sections=TRAINING_SECTIONS,
                                   keep=partial(reads_setting, init.method_cls.kind))
        if stale:
            raise CheckpointError(f"the {source} cell {init.directory} was trained with other settings than its "
                                  f"variant has now ({describe_differences(stale)}; the preset or the method's "
                                  f"defaults changed since); {retrain}")
    provenance = {"path": str(model_path), "sha256": file_sha256(model_path), "method": source,
                  "config_hash": state.get("config_hash")}
    return state, provenance


# --- 2. training ------------------------------------------------------------------------------
def _build_method(r: Resolved, spec, device: str, generator):
    try:
        return r.method_cls(spec, r.cfg, device=device, generator=generator)
    except (RuntimeError, ValueError) as exc:
        raise SurfBenchError(f"cannot build {r.cell.method} for {r.cell.dataset} items of shape "
                             f"{tuple(spec.item_shape)} ({short_error(exc)}); check the net.* settings") from exc


def _open_train(r: Resolved):
    return open_split(r.adapter, r.cell.dataset, "train", r.root, r.cell.seed, r.cfg.data.dynamic_mixing,
                      r.cfg.data.seconds)


def _load_model(r: Resolved, train_split, device: str):
    """A trained cell's model.pt, checked against this config: (method, training record)."""
    model_path = r.directory / "model.pt"
    try:
        state = load_torch(model_path)
        if not isinstance(state, dict) or "net" not in state or "training" not in state:
            raise ValueError("it is not a finished model of this version of surf-bench")
    except ValueError as exc:
        raise CheckpointError(f"{model_path} is unreadable ({exc}); run again with --force to retrain this "
                              "cell") from None
    differences = config_differences(state.get("config") or {}, r.cfg.to_dict(), ignore=RUNTIME_KEYS | SCORING_KEYS,
                                     sections=TRAINING_SECTIONS, keep=partial(reads_setting, r.method_cls.kind))
    if differences:
        raise UsageError(f"cell {r.directory} was trained with other settings "
                         f"({describe_differences(differences)}); add --force to retrain it, or name another "
                         "--variant")
    current = fingerprint(r.cell.method, r.cell.dataset, {"train": train_split.manifest_hash()})
    stale = fingerprint_differences(state["training"].get("fingerprint"), current, ("train",))
    data_changed = [line for line in stale if "split's data" in line]
    if data_changed or (stale and not r.request.rescore):
        raise UsageError(f"{model_path} is not a model of this code and data: {'; '.join(stale)}; "
                         + ("--force retrains on the data now there, --variant NAME trains a new cell beside it"
                            if data_changed else _stale_choices(stale, "train")))
    _note_engine(state["training"].get("code"), "trained", r.directory, print)
    method = _build_method(r, train_split.spec, device, seed_everything(r.cell.seed))
    method.net.load_state_dict(state["net"])
    method.net.eval()
    return method, {**state["training"], "config": state.get("config")}


def load_trained_cell(request: CellRequest, device: str = "cpu") -> tuple:
    """A finished cell's trained method, model.pt checked against its config, code and data as for
    reuse, and the resolved cell: for scripts that score it another way (benchmarks/sampler_ab.py,
    benchmarks/flow_sample_mean.py)."""
    r = resolve_cell(request)
    method, _ = _load_model(r, _open_train(r), device)
    return method, r


def _train(r: Resolved, train_split, device: str, log):
    """Train (or resume) the cell. Returns (method, training record, files to write)."""
    cfg, request = r.cfg, r.request
    world = distributed.world()
    if world.active and request.monitor is not None:
        raise UsageError("a monitored run (surf-bench tune) trains in one process; run it without torchrun")
    requested = cfg.train.threads
    if world.active and requested <= 0:  # the ranks on one machine share its cores
        requested = per_process(int(os.environ.get("LOCAL_WORLD_SIZE", world.size)))
    threads = set_threads(requested)
    make_deterministic(device)
    method = _build_method(r, train_split.spec, device, seed_everything(r.cell.seed))
    if not r.method_cls.trains:  # a method that learns nothing: no steps, no checkpoint, no train_log.csv
        check_separates(method, _first_mixtures(train_split, device), train_split.spec.n_slots)
        info = {"steps": 0, "train_seconds": 0.0, "resumed_from_step": 0, "train_mixtures": 0, "history": None}
        return _finish_training(r, method, info, None, False, threads, device, world, train_split.manifest_hash())
    checkpoint = r.directory / "checkpoint.pt"
    trainer = Trainer(method, train_split, cfg, r.cell.seed, checkpoint, log=log, monitor=request.monitor,
                      progress=request.progress)
    # --force starts over: a checkpoint left by an earlier attempt is dropped; the finished results
    # stay in place until the new ones replace them.
    if request.force and world.writer:
        checkpoint.unlink(missing_ok=True)
    distributed.barrier()  # every rank sees the same checkpoint (or none)
    resumed = trainer.try_resume()
    distributed.check_same(trainer.step, "resume step")
    init = None
    if r.method_cls.init_from and cfg.unsup.mixit_init:
        if resumed:
            init = trainer.meta.get("init")
        else:
            state, init = _init_state(r, log)
            try:
                method.initialise(state)
            except (RuntimeError, KeyError, ValueError) as exc:
                raise CheckpointError(f"the {r.method_cls.init_from} checkpoint {init['path']} does not fit "
                                      f"{r.cell.method}'s network ({short_error(exc)}); retrain it with --force "
                                      "and the same --set net.* options") from None
            trainer.meta["init"] = init
    check_separates(method, _first_mixtures(train_split, device), train_split.spec.n_slots)
    if not resumed:
        # Training starts from the same global random state whether or not the init cell had to be
        # trained first in this process (a resumed run restores the states from its checkpoint).
        seed_everything(r.cell.seed)
    if world.active:
        distributed.broadcast_modules(method.modules())  # every rank starts from rank 0's weights
        if not world.writer:  # its own random streams (noise ends, t, remixing), from (seed, rank, step)
            own_seed = distributed.rank_seed(r.cell.seed, trainer.step)
            seed_everything(own_seed)
            method.generator.manual_seed(own_seed)
    info = trainer.run()
    method.finish_training()
    return _finish_training(r, method, info, init, resumed, threads, device, world, train_split.manifest_hash())


def _finish_training(r: Resolved, method, info: dict, init, resumed: bool, threads: int, device: str, world,
                     train_manifest: str):
    """The training record and the files of a trained (or, for methods that learn nothing, set-up) cell."""
    cfg = r.cfg
    training = {
        "steps": info["steps"], "train_seconds": info["train_seconds"], "resumed": resumed,
        "resumed_from_step": info["resumed_from_step"], "train_mixtures": info["train_mixtures"],
        "dynamic_mixing": cfg.data.dynamic_mixing, "threads": threads, "device": device_description(device),
        "init": init, "code": code_version(), "processes": world.size,
        "fingerprint": fingerprint(r.cell.method, r.cell.dataset, {"train": train_manifest}),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    import pandas as pd

    model = {"net": method.net.state_dict(), "method": r.cell.method, "dataset": r.cell.dataset,
             "preset": r.cell.preset, "variant": r.cell.variant, "seed": r.cell.seed, "config_hash": cfg.hash(),
             "config": cfg.to_dict(), "training": training}
    files = {"model.pt": torch_bytes(model)}
    if info["history"] is not None:
        files["train_log.csv"] = pd.DataFrame(info["history"]).to_csv(index=False).encode()
    return method, training, files


def _first_mixtures(split, device: str, count: int = 2) -> torch.Tensor:
    """The summed mixtures of a split's first items (mixtures only: the leak-proof rule holds)."""
    index = torch.arange(min(count, len(split)))
    return mixture_sum(split.mixtures(index), split.spec).to(device)


def _trained(r: Resolved, train_split, device: str, log):
    """(method, training record, files still to write): a finished model, or a new training."""
    if distributed.broadcast_object((r.directory / "model.pt").is_file() and not r.request.force):
        method, training = _load_model(r, train_split, device)
        set_threads(r.cfg.train.threads)
        return method, training, {}
    return _train(r, train_split, device, log)


def _commit_training(r: Resolved, files: dict, extra: dict | None = None) -> None:
    """Write a new model (with its score, if any) as one unit, then drop what described the old one."""
    if not distributed.world().writer:
        return
    atomic_write_many(r.directory, {**files, **(extra or {})})
    (r.directory / "checkpoint.pt").unlink(missing_ok=True)
    if files and r.request.force:
        kept = set(extra or {})
        for split in SPLITS:
            for name in (metrics_name(split), items_name(split)):
                if name not in kept:
                    (r.directory / name).unlink(missing_ok=True)


def train_cell(request: CellRequest, log=print, wait: float = 0.0) -> dict:
    """Train a cell without scoring it (init cells, ``--train-only``); returns its training record."""
    r = resolve_cell(request)
    with cell_lock(r.directory, wait, log):
        device = r.device
        train_split = _open_train(r)
        _, training, files = _trained(r, train_split, device, log)
        if files:
            _commit_training(r, files)
    distributed.barrier()  # under torchrun: model.pt is written before any rank reads it
    return training


# --- 3. the score -----------------------------------------------------------------------------
def metrics_record(r: Resolved, result: dict, training: dict, split_obj, method, device: str,
                   eval_seconds: float) -> dict:
    """metrics[.split].json: identity, scores, training summary and provenance, in one place."""
    cell, cfg, init = r.cell, r.cfg, training.get("init")
    trained_with = training.get("config")  # a reused model.pt's own config
    moved = trained_with and config_differences(trained_with, cfg.to_dict(), sections=TRAINING_SECTIONS)
    return {
        "method": cell.method, "dataset": cell.dataset, "preset": cell.preset, "variant": cell.variant,
        "seed": cell.seed, "split": r.request.split, "modality": r.adapter.modality,
        "supervised": r.method_cls.supervised, "kind": r.method_cls.kind, "trains": r.method_cls.trains,
        **result,
        "train": {k: training[k] for k in ("steps", "train_seconds", "resumed_from_step", "train_mixtures")},
        "provenance": {
            "config_hash": cfg.hash(), "config": cfg.to_dict(), "code": code_version(),
            # a model reused after a setting it does not read moved (method.reads_setting): what it
            # was trained with
            **({"train_config": trained_with} if moved else {}),
            "train_code": training.get("code"), "packages": package_versions(),
            "device": device_description(device), "train_device": training.get("device"),
            "threads": torch.get_num_threads(),
            "seed": cell.seed, "eval_seed": cfg.eval.seed,
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "wall_seconds": round(training["train_seconds"] + eval_seconds, 2),
            "train_seconds": training["train_seconds"], "eval_seconds": round(eval_seconds, 2),
            "processes": training.get("processes", 1),
            "resumed": training["resumed"], "resumed_from_step": training["resumed_from_step"],
            "train_mixtures": training["train_mixtures"], "dynamic_mixing": training["dynamic_mixing"],
            "init_checkpoint": init["path"] if init else None,
            "init_checkpoint_sha256": init["sha256"] if init else None,
            "init_config_hash": init["config_hash"] if init else None,
            f"{r.request.split}_manifest_hash": split_obj.manifest_hash(),
            # the plugins now, the training data as the model's record has it, and the scored split
            "fingerprint": fingerprint(cell.method, cell.dataset, {**(training.get("fingerprint") or {}).get(
                "manifests", {}), r.request.split: split_obj.manifest_hash()}),
            "n_params": sum(p.numel() for p in method.net.parameters()),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(),
        },
    }


def run_cell(request: CellRequest, log=print) -> dict:
    """Train the cell if needed, score it on ``request.split`` and return its metrics record."""
    r = resolve_cell(request)
    metrics_path = r.directory / metrics_name(request.split)
    if request.rescore and not (r.directory / "model.pt").is_file():
        raise UsageError(f"--rescore needs a trained cell, and {r.directory / 'model.pt'} does not exist; run it "
                         "without --rescore")
    world = distributed.world()
    if world.active and request.rescore:
        raise UsageError("--rescore scores in one process; run it without torchrun")
    if distributed.broadcast_object(metrics_path.exists() and not request.force and not request.rescore):
        return _finished_result(metrics_path, r, log) if world.writer else None
    device = r.device
    with cell_lock(r.directory, 0, log):
        if distributed.broadcast_object(metrics_path.exists() and not request.force and not request.rescore):
            # finished meanwhile
            return _finished_result(metrics_path, r, log) if world.writer else None
        train_split = _open_train(r)
        eval_split = open_split(r.adapter, r.cell.dataset, request.split, r.root, r.cell.seed,
                                seconds=r.cfg.data.seconds)
        check_specs(r.cell.dataset, r.adapter, train_split, eval_split)
        if request.force or not (r.directory / "model.pt").is_file():
            check_scored_items(eval_split, r.cfg.eval.n_items)  # before hours of training, not after
        method, training, files = _trained(r, train_split, device, log)
        if not world.writer:
            return None  # rank 0 scores the model and writes every file
        make_deterministic(device)
        started = time.perf_counter()
        try:
            result = evaluate(method, eval_split, r.cfg, device)
        except SurfBenchError:
            raise
        except RuntimeError as exc:
            retry = ("run again with --force to retrain and retry" if request.force else
                     "the trained state is kept: run again to retry the evaluation")
            raise SurfBenchError(f"evaluation of {request.method} on {request.dataset}/{request.split} failed "
                                 f"({short_error(exc)}); {retry} (--debug shows the traceback)") from exc
        if request.split == "valid":
            # A criterion from the validation mixtures alone, for choices without clean references.
            criterion = remix_consistency(method, eval_split, r.cfg, device, nfe=result.get("nfe"))
            result["unsupervised"] = {"remix_error_db": criterion["remix_error_db"],
                                      "items": len(criterion["remix_error_db_items"])}
        items = result.pop("items")
        payload = metrics_record(r, result, training, eval_split, method, device, time.perf_counter() - started)
        if request.rescore and metrics_path.exists():
            backup = {f"{name}.before-rescore": (r.directory / name).read_bytes()
                      for name in (metrics_name(request.split), items_name(request.split))
                      if (r.directory / name).exists()}
            atomic_write_many(r.directory, backup)
        # The score goes last: it marks the split finished, so a crash before it leaves the old
        # results (or none) and the checkpoint, never a score without its model and rows.
        _commit_training(r, files, {items_name(request.split): items.to_csv(index=False).encode(),
                                    metrics_name(request.split): json_bytes(payload)})
        return payload
