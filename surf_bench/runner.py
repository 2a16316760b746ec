"""Run one cell: resolve the config, open the data, initialise (MixIT chain), train with resume,
evaluate, and write metrics.json + items.csv atomically. A finished cell is reused unless forced."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from filelock import FileLock, Timeout

from . import config as config_mod
from . import registry
from .data.base import check_split
from .errors import CellBusy, SurfBenchError, UsageError
from .evaluate import evaluate
from .results import (
    atomic_torch_save,
    atomic_write_csv,
    atomic_write_json,
    cell_dir,
    code_version,
    device_description,
    ensure_writable,
    load_json,
    package_versions,
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
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but torch sees no CUDA GPU (use --device cpu or auto)")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UsageError(f"unknown device '{name}'. Valid: auto, cpu, cuda")
    return name


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


def _load_init_state(request: CellRequest, method_cls, log) -> tuple[dict, str]:
    """The weights of ``method_cls.init_from`` for the same dataset, preset and seed: reuse the
    finished cell's model.pt, or run that cell first."""
    source = method_cls.init_from
    directory = cell_dir(request.out, request.dataset, source, request.preset, request.seed)
    model_path = directory / "model.pt"
    if not (directory / "metrics.json").exists() or not model_path.exists():
        log(f"{request.method} starts from the {source} cell; training it first ({directory})")
        run_cell(CellRequest(source, request.dataset, request.preset, request.seed, request.overrides,
                             request.out, request.device, False, request.data_root), log=log)
    try:
        state = torch.load(model_path, map_location="cpu", weights_only=False)
        info = load_json(directory / "metrics.json")
    except Exception as exc:
        raise SurfBenchError(f"the {source} checkpoint {model_path} is corrupt ({type(exc).__name__}); "
                             f"delete {directory} and run again to retrain it") from None
    if info.get("dataset") != request.dataset or state.get("dataset") != request.dataset:
        raise SurfBenchError(f"the {source} checkpoint {model_path} was trained on "
                             f"'{state.get('dataset')}', not '{request.dataset}'; delete it or use its dataset")
    return state, str(model_path)


def run_cell(request: CellRequest, log=print) -> dict:
    method_cls, adapter, cfg = resolve_config(request)
    if adapter.modality not in getattr(method_cls, "modalities", ("image", "audio")):
        raise UsageError(f"method '{request.method}' does not support {adapter.modality} datasets")
    device = pick_device(request.device)
    directory = cell_dir(request.out, request.dataset, request.method, request.preset, request.seed)
    metrics_path = directory / "metrics.json"
    if metrics_path.exists() and not request.force:
        log(f"cell already finished: {metrics_path} (use --force to run it again)")
        return load_json(metrics_path)
    ensure_writable(directory)
    lock = FileLock(str(directory / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise CellBusy(f"another process is running this cell ({directory}); wait for it to finish") from None
    try:
        return _run_locked(request, method_cls, adapter, cfg, device, directory, log)
    finally:
        lock.release()


def _run_locked(request, method_cls, adapter, cfg, device, directory, log) -> dict:
    threads = set_threads(cfg.train.threads)
    root = Path(cfg.data.root) if cfg.data.root else adapter.default_root()
    train_split = check_split(adapter.open("train", root, seed=request.seed), f"{request.dataset}/train")
    test_split = check_split(adapter.open("test", root, seed=request.seed), f"{request.dataset}/test")
    if request.force:
        for stale in ("checkpoint.pt", "metrics.json"):
            (directory / stale).unlink(missing_ok=True)
    torch.manual_seed(request.seed)
    generator = torch.Generator().manual_seed(request.seed)
    method = method_cls(train_split.spec, cfg, device=device, generator=generator)
    init_path = None
    trainer = Trainer(method, train_split, cfg, request.seed, directory / "checkpoint.pt", log=log)
    resumed = trainer.try_resume()
    if not resumed and method_cls.init_from and cfg.unsup.mixit_init:
        state, init_path = _load_init_state(request, method_cls, log)
        method.initialise(state)
    elif resumed and method_cls.init_from and cfg.unsup.mixit_init:
        init_path = str(cell_dir(request.out, request.dataset, method_cls.init_from, request.preset,
                                 request.seed) / "model.pt")
    started = time.perf_counter()
    train_info = trainer.run()
    atomic_torch_save(directory / "model.pt", {
        "net": method.net.state_dict(), "method": request.method, "dataset": request.dataset,
        "preset": request.preset, "seed": request.seed, "config_hash": cfg.hash(),
    })
    eval_start = time.perf_counter()
    result = evaluate(method, test_split, cfg, device)
    eval_seconds = time.perf_counter() - eval_start
    items = result.pop("items")
    atomic_write_csv(directory / "items.csv", items)
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
            "wall_seconds": round(train_info["train_seconds"] + eval_seconds, 2),
            "train_seconds": train_info["train_seconds"],
            "eval_seconds": round(eval_seconds, 2),
            "session_seconds": round(time.perf_counter() - started, 2),
            "resumed": resumed,
            "init_checkpoint": init_path,
            "test_manifest_hash": test_split.manifest_hash(),
            "n_params": sum(p.numel() for p in method.net.parameters()),
        },
    }
    import pandas as pd

    atomic_write_csv(directory / "train_log.csv", pd.DataFrame(train_info["history"]))
    atomic_write_json(directory / "metrics.json", payload)
    (directory / "checkpoint.pt").unlink(missing_ok=True)
    return payload
