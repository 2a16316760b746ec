"""Plugin discovery: one file per method in ``methods/`` and per dataset in ``datasets/``.

Plugin folders are loaded by path (never as a top-level package, so ``datasets/`` cannot shadow
HuggingFace ``datasets``). Each method file defines ``METHOD`` (a :class:`surf_bench.method.Method`
subclass); each dataset file defines ``DATASET`` (a :class:`surf_bench.data.base.DatasetAdapter`
instance). Extra folders can be added with ``SURF_BENCH_PLUGIN_PATH`` (``os.pathsep``-separated
roots, each holding ``methods/`` and/or ``datasets/``).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import sys
import traceback
import types
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


_PATHS: dict[tuple[str, str], Path] = {}  # (folder, name) -> the plugin file it was loaded from
_BROKEN: dict[str, dict[Path, str]] = {}  # folder -> {plugin file: why it was skipped}
_CONFLICTS: dict[tuple[str, str], list[Path]] = {}  # (folder, name) -> the files that claim the name
_WARNED: set[Path] = set()


def _package(directory: Path, namespace: str) -> str:
    """A package per plugin folder (named by its path), so a plugin can import helper modules beside
    it (``from ._shared import f``; files starting with ``_`` are helpers, never plugins)."""
    tag = "p" + hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:10]
    names = ["surf_bench_plugins", f"surf_bench_plugins.{tag}", f"surf_bench_plugins.{tag}.{namespace}"]
    for depth, name in enumerate(names):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(directory)] if depth == 2 else []
            package.__package__ = name
            sys.modules[name] = package
    return names[-1]


def _where(path: Path, exc: BaseException) -> str:
    """``file:line: Type: message`` of a plugin's import failure (the line in the plugin file itself)."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    if line is None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
        line = frames[-1].lineno if frames else None
    message = " ".join(str(exc).split())[:200]
    return f"{path}{f':{line}' if line else ''}: {type(exc).__name__}: {message}"


def _load_file(path: Path, namespace: str):
    package = _package(path.parent, namespace)
    module_name = f"{package}.{path.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken plugin must not hide the others
        del sys.modules[module_name]
        raise SurfBenchError(_where(path, exc)) from exc
    return module


def _skip(folder: str, path: Path, why: str) -> None:
    """Record a plugin file that cannot be used, and say so once (stderr); the other plugins load."""
    _BROKEN.setdefault(folder, {})[path] = why
    if path not in _WARNED:
        _WARNED.add(path)
        print(f"warning: {folder[:-1]} plugin skipped: {why}", file=sys.stderr)


def _discover(folder: str, attribute: str, validate) -> dict:
    found: dict = {}
    for root in _plugin_roots():
        directory = root / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            try:
                module = _load_file(path, folder)
                plugin = getattr(module, attribute, None)
                if plugin is None:
                    raise SurfBenchError(f"{path}: defines no {attribute} (helper modules start with '_')")
                validate(plugin, path)
            except SurfBenchError as exc:
                _skip(folder, path, str(exc))
                continue
            name = plugin.name
            if name in found or (folder, name) in _CONFLICTS:
                claimed = _CONFLICTS.setdefault((folder, name), [found.pop(name)[1]] if name in found else [])
                claimed.append(path)
                _skip(folder, path, f"{path}: another {folder[:-1]} plugin is named '{name}' too "
                                    f"({', '.join(map(str, claimed[:-1]))})")
                continue
            found[name] = (plugin, path)
    if not found:
        raise SurfBenchError(
            f"no {folder} plugins found under {', '.join(map(str, _plugin_roots()))}: "
            "install surf-bench from its source tree (pip install -e .)"
        )
    _PATHS.update({(folder, name): path for name, (_, path) in found.items()})
    return {name: plugin for name, (plugin, _) in found.items()}


def _unavailable(kind: str, folder: str, name: str, table: dict) -> SurfBenchError:
    """Why ``name`` is not in ``table``: two plugins claim it, or it is unknown (naming the skipped
    plugin files, which may be where it was meant to come from)."""
    if (folder, name) in _CONFLICTS:
        paths = ", ".join(map(str, _CONFLICTS[(folder, name)]))
        return UsageError(f"two {kind} plugins are named '{name}' ({paths}); rename one of them")
    error = unknown(kind, name, table)
    broken = _BROKEN.get(folder)
    if broken:
        error = UsageError(f"{error} (skipped plugin files: {'; '.join(broken.values())})")
    return error


def broken_plugins() -> dict[str, dict[Path, str]]:
    """{folder: {plugin file: why it was skipped}} of the plugin files that could not be used."""
    methods()
    datasets()
    return {folder: dict(files) for folder, files in _BROKEN.items()}


def reload() -> None:
    """Forget every loaded plugin: the next lookup reads the plugin folders again (tests, long sessions)."""
    methods.cache_clear()
    datasets.cache_clear()
    for store in (_PATHS, _BROKEN, _CONFLICTS):
        store.clear()
    _WARNED.clear()
    for name in [n for n in sys.modules if n == "surf_bench_plugins" or n.startswith("surf_bench_plugins.")]:
        del sys.modules[name]


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
        raise _unavailable("method", "methods", name, table)
    return table[name]


def plugin_file(kind: str, name: str) -> Path:
    """The file a method (``kind="methods"``) or dataset (``"datasets"``) plugin was loaded from."""
    (methods if kind == "methods" else datasets)()
    return _PATHS[(kind, name)]


def get_dataset(name: str):
    table = datasets()
    if name not in table:
        raise _unavailable("dataset", "datasets", name, table)
    return table[name]
