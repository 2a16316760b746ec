"""Run one cell: resolve the config, open the data, initialise (MixIT chain), train with resume,
evaluate, and write metrics.json + items.csv atomically.

- A finished cell (metrics.json present) is reused, after checking it was computed with the same
  settings (else a one-line error asks for --force); ``--force`` runs it again from scratch and
  replaces its files only once the new run has succeeded.
- One process at a time per cell (a file lock on ``<cell>/.lock``); a second one gets CellBusy.
- An unfinished cell resumes from its checkpoint; with the same seed, a resumed run ends with
  exactly the metrics of an uninterrupted one (CPU; deterministic algorithms on).
- Every failure a user can cause leaves as a :mod:`surf_bench.errors` exception naming the file
  or setting and what to do; finished results are never touched by a failed run.
"""

from __future__ import annotations

import os
import platform
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout

from . import config as config_mod
from . import registry
from .data.base import check_split
from .errors import CellBusy, CheckpointError, DataError, SurfBenchError, UsageError
from .evaluate import evaluate
from .results import (
    atomic_write_many,
    cell_dir,
    code_version,
    config_differences,
    describe_differences,
    device_description,
    ensure_writable,
    file_sha256,
    json_bytes,
    load_json,
    load_torch,
    package_versions,
    remove_stale_temporaries,
    torch_bytes,
)
from .train import Trainer


@dataclass
class CellRequest:
    method: str
    dataset: str
    preset: str = "quick"
    seed: int = 0
    overrides: dict = field(default_factory=dict)
    out: Path = Path("results")
    device: str = "auto"
    force: bool = False
    data_root: str | None = None


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


def set_threads(requested: int) -> int:
    """Threads = the cores this process may use (sched_getaffinity), unless set explicitly."""
    if requested <= 0:
        try:
            requested = len(os.sched_getaffinity(0))
        except AttributeError:
            requested = os.cpu_count() or 1
    torch.set_num_threads(max(1, requested))
    return torch.get_num_threads()


def resolve_config(request: CellRequest):
    method_cls = registry.get_method(request.method)
    adapter = registry.get_dataset(request.dataset)
    cfg = config_mod.resolve(request.preset, adapter.modality, method_cls.preset_defaults,
                             adapter.preset_defaults, request.overrides)
    if request.data_root:
        cfg.data.root = request.data_root
    return method_cls, adapter, cfg


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


def open_split(adapter, name: str, split: str, root: Path, seed: int):
    """``adapter.open`` with every failure turned into one DataError that names the files."""
    try:
        opened = adapter.open(split, root, seed=seed)
    except SurfBenchError:
        raise
    except OSError as exc:
        where = exc.filename or root
        raise DataError(f"{name}/{split}: cannot read {where} ({exc.strerror or exc}); check the files under "
                        f"{root}") from exc
    except Exception as exc:
        raise DataError(f"{name}/{split}: the files under {root} could not be read ({_short(exc)}); check "
                        f"them or fetch the dataset again (surf-bench fetch {name} --root {root})") from exc
    return check_split(opened, f"{name}/{split}")


def check_specs(name: str, adapter, train_split, test_split) -> None:
    """Train and test items must agree with each other and with the adapter (slots, item shape)."""
    train, test = train_split.spec, test_split.spec
    if train.n_slots != adapter.n_slots or test.n_slots != adapter.n_slots:
        raise DataError(f"{name}: the adapter declares K={adapter.n_slots} slots but its splits have "
                        f"train K={train.n_slots}, test K={test.n_slots}")
    if train.modality != test.modality or train.modality != adapter.modality:
        raise DataError(f"{name}: the adapter is {adapter.modality} but its splits are {train.modality} / "
                        f"{test.modality}")
    rank_differs = len(train.item_shape) != len(test.item_shape)
    channels_differ = train.modality == "image" and train.item_shape[:1] != test.item_shape[:1]
    if None not in test.item_shape and (rank_differs or channels_differ):
        raise DataError(f"{name}: train items have shape {tuple(train.item_shape)} but test items "
                        f"{tuple(test.item_shape)}; the files under the dataset root do not match")


def _finished_result(metrics_path: Path, cfg, directory: Path, log) -> dict:
    """The results of a finished cell, after checking they were computed with this config."""
    try:
        previous = load_json(metrics_path)
    except SurfBenchError:
        raise SurfBenchError(f"{metrics_path} is unreadable; run again with --force to recompute this "
                             "cell") from None
    old_config = (previous.get("provenance") or {}).get("config")
    if old_config:
        differences = config_differences(old_config, cfg.to_dict())
        if differences:
            raise UsageError(f"cell {directory} already finished with other settings "
                             f"({describe_differences(differences)}); add --force to replace its results, "
                             "or use another --out")
    log(f"cell already finished: {metrics_path} (use --force to run it again)")
    return previous


def _load_init_state(request: CellRequest, method_cls, cfg, log) -> tuple[dict, dict]:
    """The weights of ``method_cls.init_from`` for the same dataset, preset and seed: reuse the
    finished cell's model.pt, or run that cell first. Returns (state, provenance of the file)."""
    source = method_cls.init_from
    directory = cell_dir(request.out, request.dataset, source, request.preset, request.seed)
    model_path, metrics_path = directory / "model.pt", directory / "metrics.json"
    same = " and the same --set options" if request.overrides else ""
    retrain = (f"retrain it with `surf-bench run --method {source} --dataset {request.dataset} --preset "
               f"{request.preset} --seed {request.seed} --out {request.out} --force`{same}, or pass "
               "--set unsup.mixit_init=false")
    if not metrics_path.exists():
        log(f"{request.method} starts from the {source} cell; training it first ({directory})")
        run_cell(CellRequest(source, request.dataset, request.preset, request.seed, request.overrides,
                             request.out, request.device, False, request.data_root), log=log)
    if not model_path.is_file():
        raise CheckpointError(f"{request.method} starts from the {source} checkpoint {model_path}, which is "
                              f"missing although that cell is finished; {retrain}")
    try:
        state = load_torch(model_path)
        if not isinstance(state, dict) or "net" not in state:
            raise ValueError("it holds no 'net' weights")
    except ValueError as exc:
        raise CheckpointError(f"the {source} checkpoint {model_path} is unreadable ({exc}); "
                              f"{retrain}") from None
    info = load_json(metrics_path)
    trained_on = state.get("dataset")
    if trained_on != request.dataset or info.get("dataset", request.dataset) != request.dataset:
        raise CheckpointError(f"the {source} checkpoint {model_path} was trained on '{trained_on}', not "
                              f"'{request.dataset}': it cannot initialise {request.method} here; {retrain}")
    old_config = (info.get("provenance") or {}).get("config")
    if old_config:
        differences = config_differences(old_config, cfg.to_dict(), sections=("net",))
        if differences:
            raise CheckpointError(f"the {source} checkpoint {model_path} was trained with another network "
                                  f"({describe_differences(differences)}); use the same --set net.* options "
                                  f"as that cell, or {retrain}")
    provenance = {"path": str(model_path), "sha256": file_sha256(model_path), "method": source,
                  "config_hash": (info.get("provenance") or {}).get("config_hash")}
    return state, provenance


def run_cell(request: CellRequest, log=print) -> dict:
    method_cls, adapter, cfg = resolve_config(request)
    if adapter.modality not in getattr(method_cls, "modalities", ("image", "audio")):
        raise UsageError(f"method '{request.method}' does not support {adapter.modality} datasets")
    device = pick_device(request.device)
    directory = cell_dir(request.out, request.dataset, request.method, request.preset, request.seed)
    metrics_path = directory / "metrics.json"
    if metrics_path.exists() and not request.force:
        return _finished_result(metrics_path, cfg, directory, log)
    ensure_writable(directory)
    lock = FileLock(str(directory / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise CellBusy(f"another process is running this cell ({directory}); wait for it to finish, or stop "
                       "it (a stopped run resumes from its last checkpoint)") from None
    except OSError as exc:
        raise SurfBenchError(f"cannot lock {directory / '.lock'} ({exc.strerror or exc}); choose another "
                             "--out") from None
    try:
        if metrics_path.exists() and not request.force:  # finished by another process while we waited
            return _finished_result(metrics_path, cfg, directory, log)
        remove_stale_temporaries(directory)
        deterministic = (torch.are_deterministic_algorithms_enabled(),
                         torch.is_deterministic_algorithms_warn_only_enabled())
        try:
            return _run_locked(request, method_cls, adapter, cfg, device, directory, log)
        finally:
            torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    finally:
        lock.release()


def _run_locked(request, method_cls, adapter, cfg, device, directory, log) -> dict:
    threads = set_threads(cfg.train.threads)
    root = Path(cfg.data.root) if cfg.data.root else adapter.default_root()
    train_split = open_split(adapter, request.dataset, "train", root, request.seed)
    test_split = open_split(adapter, request.dataset, "test", root, request.seed)
    check_specs(request.dataset, adapter, train_split, test_split)
    make_deterministic(device)
    generator = seed_everything(request.seed)
    try:
        method = method_cls(train_split.spec, cfg, device=device, generator=generator)
    except (RuntimeError, ValueError) as exc:
        shape = tuple(train_split.spec.item_shape)
        raise SurfBenchError(f"cannot build {request.method} for {request.dataset} items of shape {shape} "
                             f"({_short(exc)}); check the net.* settings") from exc
    checkpoint = directory / "checkpoint.pt"
    trainer = Trainer(method, train_split, cfg, request.seed, checkpoint, log=log)
    # --force starts over: a checkpoint left by an earlier attempt is dropped; the finished results
    # (metrics.json, items.csv, model.pt, train_log.csv) stay in place until the new ones replace them.
    if request.force:
        checkpoint.unlink(missing_ok=True)
    resumed = trainer.try_resume()
    init = None
    if method_cls.init_from and cfg.unsup.mixit_init:
        if resumed:
            init = trainer.meta.get("init")
        else:
            state, init = _load_init_state(request, method_cls, cfg, log)
            try:
                method.initialise(state)
            except (RuntimeError, KeyError, ValueError) as exc:
                raise CheckpointError(f"the {method_cls.init_from} checkpoint {init['path']} does not fit "
                                      f"{request.method}'s network ({_short(exc)}); retrain it with --force "
                                      "and the same --set net.* options") from None
            trainer.meta["init"] = init
    if not resumed:
        # Training starts from the same global random state whether or not the init cell had to be
        # trained first in this process (a resumed run restores the states from its checkpoint).
        seed_everything(request.seed)
    started = time.perf_counter()
    train_info = trainer.run()
    eval_start = time.perf_counter()
    try:
        result = evaluate(method, test_split, cfg, device)
    except SurfBenchError:
        raise
    except RuntimeError as exc:
        retry = ("run again with --force to retrain and retry" if request.force else
                 f"the trained state is kept in {checkpoint}: run again to retry the evaluation")
        raise SurfBenchError(f"evaluation of {request.method} on {request.dataset} failed ({_short(exc)}); "
                             f"{retry} (--debug shows the traceback)") from exc
    eval_seconds = time.perf_counter() - eval_start
    items = result.pop("items")
    payload = {
        "method": request.method,
        "dataset": request.dataset,
        "preset": request.preset,
        "seed": request.seed,
        "modality": adapter.modality,
        "supervised": method_cls.supervised,
        "kind": method_cls.kind,
        **result,
        "train": {k: v for k, v in train_info.items() if k != "history"},
        "provenance": {
            "config_hash": cfg.hash(),
            "config": cfg.to_dict(),
            "code": code_version(),
            "packages": package_versions(),
            "device": device_description(device),
            "threads": threads,
            "seed": request.seed,
            "eval_seed": cfg.eval.seed,
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "wall_seconds": round(train_info["train_seconds"] + eval_seconds, 2),
            "train_seconds": train_info["train_seconds"],
            "eval_seconds": round(eval_seconds, 2),
            "session_seconds": round(time.perf_counter() - started, 2),
            "resumed": resumed,
            "resumed_from_step": train_info["resumed_from_step"],
            "init_checkpoint": init["path"] if init else None,
            "init_checkpoint_sha256": init["sha256"] if init else None,
            "init_config_hash": init["config_hash"] if init else None,
            "test_manifest_hash": test_split.manifest_hash(),
            "n_params": sum(p.numel() for p in method.net.parameters()),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(),
        },
    }
    import pandas as pd

    model = {"net": method.net.state_dict(), "method": request.method, "dataset": request.dataset,
             "preset": request.preset, "seed": request.seed, "config_hash": cfg.hash()}
    # metrics.json goes last: it marks the cell finished, so a crash before it leaves the old results
    # (or none) and the checkpoint, never a metrics.json without its model and rows.
    atomic_write_many(directory, {
        "items.csv": items.to_csv(index=False).encode(),
        "train_log.csv": pd.DataFrame(train_info["history"]).to_csv(index=False).encode(),
        "model.pt": torch_bytes(model),
        "metrics.json": json_bytes(payload),
    })
    checkpoint.unlink(missing_ok=True)
    return payload


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
