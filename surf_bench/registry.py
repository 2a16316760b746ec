"""Plugin discovery: one file per method in ``methods/`` and per dataset in ``datasets/``.

Plugin folders are loaded by path (never as a top-level package, so ``datasets/`` cannot shadow
HuggingFace ``datasets``). Each method file defines ``METHOD`` (a :class:`surf_bench.method.Method`
subclass); each dataset file defines ``DATASET`` (a :class:`surf_bench.data.base.DatasetAdapter`
instance). Extra folders can be added with ``SURF_BENCH_PLUGIN_PATH`` (``os.pathsep``-separated
roots, each holding ``methods/`` and/or ``datasets/``).
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path

from .errors import SurfBenchError, UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def unknown(kind: str, name: str, choices) -> UsageError:
    choices = sorted(choices)
    return UsageError(f"unknown {kind} '{name}'.{did_you_mean(name, choices)} Valid: {', '.join(choices)}")


def _plugin_roots() -> list[Path]:
    roots = [PROJECT_ROOT]
    extra = os.environ.get("SURF_BENCH_PLUGIN_PATH", "")
    roots += [Path(p) for p in extra.split(os.pathsep) if p]
    return roots


def _load_file(path: Path, namespace: str):
    module_name = f"surf_bench_plugins.{namespace}.{path.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken plugin must not hide the others' names
        del sys.modules[module_name]
        raise SurfBenchError(f"plugin {path} failed to import: {exc!r}") from exc
    return module


def _discover(folder: str, attribute: str, validate) -> dict:
    found: dict = {}
    for root in _plugin_roots():
        directory = root / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module = _load_file(path, folder)
            plugin = getattr(module, attribute, None)
            if plugin is None:
                raise SurfBenchError(f"plugin {path} defines no {attribute}")
            validate(plugin, path)
            name = plugin.name
            if name in found:
                raise SurfBenchError(f"duplicate {folder[:-1]} name '{name}' in {path} and {found[name][1]}")
            found[name] = (plugin, path)
    if not found:
        raise SurfBenchError(
            f"no {folder} plugins found under {', '.join(map(str, _plugin_roots()))}: "
            "install surf-bench from its source tree (pip install -e .)"
        )
    return {name: plugin for name, (plugin, _) in found.items()}


def _validate_method(plugin, path):
    from .method import Method

    if not (isinstance(plugin, type) and issubclass(plugin, Method)):
        raise SurfBenchError(f"{path}: METHOD must be a subclass of surf_bench.method.Method")
    for attr in ("name", "description", "kind"):
        if not getattr(plugin, attr, None):
            raise SurfBenchError(f"{path}: method class must set '{attr}'")
    if plugin.kind not in ("regression", "flow"):
        raise SurfBenchError(f"{path}: kind must be 'regression' or 'flow', not {plugin.kind!r}")


def _validate_dataset(plugin, path):
    from .data.base import DatasetAdapter

    if not isinstance(plugin, DatasetAdapter):
        raise SurfBenchError(f"{path}: DATASET must be a surf_bench.data.base.DatasetAdapter instance")
    if plugin.modality not in ("image", "audio"):
        raise SurfBenchError(f"{path}: modality must be 'image' or 'audio'")
    if plugin.n_slots < 1:
        raise SurfBenchError(f"{path}: n_slots must be >= 1")


@cache
def methods() -> dict:
    return _discover("methods", "METHOD", _validate_method)


@cache
def datasets() -> dict:
    return _discover("datasets", "DATASET", _validate_dataset)


def get_method(name: str):
    table = methods()
    if name not in table:
        raise unknown("method", name, table)
    return table[name]


def get_dataset(name: str):
    table = datasets()
    if name not in table:
        raise unknown("dataset", name, table)
    return table[name]
