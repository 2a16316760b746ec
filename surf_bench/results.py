"""Result files: atomic writes, JSON/torch IO, config comparison (docs/architecture.md, "Results").

A cell folder (surf_bench.cells) holds metrics.json / items.csv (the test score and its per-item
rows), metrics.valid.json / items.valid.csv (the validation score), checkpoint.pt (resumable
state, removed once the model is written), model.pt (final weights, config and training record),
train_log.csv and ``.lock`` (held by the process running the cell). Every file is written to a
temporary file in the same folder, fsynced, then renamed, so a crash leaves the old file or the
new one, never a part of one; a score file is renamed last and marks its split finished.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import torch

from .errors import SurfBenchError

# Settings that change how a run is executed, not what it computes: ignored when a finished cell
# or a checkpoint is compared with the current config.
RUNTIME_KEYS = frozenset({"train.threads", "train.checkpoint_every", "train.checkpoint_minutes",
                          "train.log_every", "train.sync_every", "data.root"})


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def cell_dir(out: Path, dataset: str, method: str, preset: str, seed: int) -> Path:
    return Path(out) / dataset / method / preset / f"seed{seed}"


def ensure_writable(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=directory, prefix=".probe", delete=True)
        probe.close()
    except OSError as exc:
        raise SurfBenchError(f"output directory {directory} is not writable ({exc.strerror or exc}); "
                             "choose another with --out") from None
    return directory


def _write_temp(path: Path, data: bytes) -> str:
    """``data`` in a fsynced temporary file next to ``path``; returns the temporary name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; results are shared like any file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_failed(path: Path, exc: OSError) -> SurfBenchError:
    return SurfBenchError(f"cannot write {path} ({exc.strerror or exc}); check free space and permissions "
                          "of the output folder")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``: a reader (or a
    crash) sees the old file or the new one, never a partial one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _write_temp(path, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            _remove(tmp)
            raise
        _fsync_dir(path.parent)
    except OSError as exc:
        raise _write_failed(path, exc) from exc


def atomic_write_many(directory: Path, files: dict[str, bytes]) -> None:
    """Write several files of one result as a unit: every file goes to a fsynced temporary first,
    then they are renamed in order (put the file that marks the result complete, metrics.json,
    last). A failure before the renames leaves every old file in place."""
    directory = Path(directory)
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in files.items():
            staged.append((_write_temp(directory / name, data), directory / name))
        for tmp, path in staged:
            os.replace(tmp, path)
        _fsync_dir(directory)
    except OSError as exc:
        raise _write_failed(directory, exc) from exc
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                _remove(tmp)


def json_safe(value):
    """NaN and infinities as null: strict JSON parsers (JavaScript's, jq's) reject bare NaN. A missing
    metric keeps its reason under ``missing``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def json_bytes(payload: dict) -> bytes:
    return (json.dumps(json_safe(payload), indent=2, sort_keys=False, default=str, allow_nan=False) + "\n").encode()


def torch_bytes(obj) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def atomic_write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(path, json_bytes(payload))


def atomic_torch_save(path: Path, obj) -> None:
    atomic_write_bytes(path, torch_bytes(obj))


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Temporary files left by a process killed while writing (``.<name>.*.tmp``); call under the lock."""
    removed = []
    for tmp in Path(directory).glob(".*.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def flat_config(config: dict) -> dict:
    """``{"train": {"steps": 3}}`` -> ``{"train.steps": 3}`` with JSON-normalised values (tuples as lists)."""
    flat = {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}
    return json.loads(json.dumps(flat, default=str))


def config_differences(old: dict, new: dict, ignore=RUNTIME_KEYS, sections: tuple | None = None) -> list[str]:
    """``key: old -> new`` for every setting both configs have and that differs (runtime-only keys
    ignored; a setting added to the code since ``old`` was written is not a difference)."""
    a, b = flat_config(old), flat_config(new)
    keys = sorted(set(a) & set(b))
    if sections is not None:
        keys = [k for k in keys if k.partition(".")[0] in sections]
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if k not in ignore and a.get(k) != b.get(k)]


def describe_differences(differences: list[str], limit: int = 3) -> str:
    shown = "; ".join(differences[:limit])
    return shown + (f"; and {len(differences) - limit} more" if len(differences) > limit else "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_torch(path: Path, map_location="cpu"):
    """``torch.load`` of a file this package wrote (tensors, numbers, strings and containers only:
    ``weights_only``). Raises ValueError with a short reason when the file is not usable."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(_why_unreadable(path, exc)) from exc


def _why_unreadable(path: Path, exc: Exception) -> str:
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as err:
        return f"cannot read it: {err.strerror or err}"
    if size == 0:
        return "the file is empty"
    if head != b"PK\x03\x04":
        return f"not a PyTorch file ({size} bytes without a zip header)"
    text = str(exc)
    if "central directory" in text or isinstance(exc, (EOFError, OSError)):
        return f"truncated ({size} bytes, the zip archive is incomplete)"
    first = " ".join(text.split()).split(". ")[0][:160]
    return f"{type(exc).__name__}: {first}"


def short_error(exc: BaseException) -> str:
    """``Type: message`` on one line, at most about 200 characters, for one-line errors."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SurfBenchError(f"cannot read {path}: {exc}") from None


# --- the one reader of results ----------------------------------------------------------------
CELL_KEY = ["dataset", "method", "preset", "variant", "seed"]  # one cell; presets reuse variant names
# The oracle sets' reference estimates (metrics/oracle.py), scored like the baseline.
REFERENCE_COLUMNS = ("bayes_mean", "posterior_sample")
COLUMNS = [*CELL_KEY, "split", "metric", "mean", "ci_low", "ci_high", "baseline", *REFERENCE_COLUMNS,
           "higher_is_better", "headline", "nfe", "supervised", "trains", "kind", "modality", "protocol",
           "n_items", "config_hash", "train_code", "train_mixtures", "train_seconds", "wall_seconds", "remix_error_db",
           "path"]


def code_label(code: dict | None) -> str | None:
    """A code version as one short label: the commit's first 10 hex, '+dirty' with uncommitted changes."""
    if not isinstance(code, dict) or not code.get("git_commit"):
        return None
    return str(code["git_commit"])[:10] + ("+dirty" if code.get("git_dirty") else "")


def score_records(root: Path):
    """(path, record) of every readable score file (metrics.json, metrics.<split>.json) under root."""
    for path in sorted(Path(root).rglob("metrics*.json")):
        if path.name != "metrics.json" and not (path.name.startswith("metrics.") and path.name.count(".") == 2):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and "metrics" in record and "method" in record:
            yield path, record


def collect(root: Path = Path("results")):
    """Every finished score under ``root`` as a pandas DataFrame: one row per cell, split and metric
    (mean, 95% interval, the do-nothing baseline, on the oracle sets the Bayes posterior mean and
    the exact posterior sample, the cell's identity and provenance, and for
    validation scores the unsupervised remix-consistency criterion of surf_bench.criterion)."""
    import pandas as pd

    from .metrics import catalog

    rows = []
    for path, record in score_records(root):
        prov = record.get("provenance") or {}
        train = record.get("train") or {}
        split = record.get("split") or ("test" if path.name == "metrics.json" else path.name.split(".")[1])
        for name, value in (record.get("metrics") or {}).items():
            if name.endswith("_ci95") or name not in catalog.BY_NAME:
                continue
            declared = catalog.metric(name)
            low, high = (record["metrics"].get(f"{name}_ci95") or [None, None])[:2]
            rows.append({
                "dataset": record["dataset"], "method": record["method"], "preset": record.get("preset"),
                "variant": record.get("variant", path.parent.parent.name), "seed": record.get("seed"),
                "split": split, "metric": name, "mean": value, "ci_low": low, "ci_high": high,
                "baseline": (record.get("baseline") or {}).get(name),
                **{ref: ((record.get("references") or {}).get(ref) or {}).get(name) for ref in REFERENCE_COLUMNS},
                "higher_is_better": declared.higher_is_better, "headline": declared.headline,
                "nfe": record.get("nfe"), "supervised": record.get("supervised"),
                "trains": record.get("trains", True), "kind": record.get("kind"),
                "modality": record.get("modality"), "protocol": record.get("protocol"),
                "n_items": record.get("n_items"), "config_hash": prov.get("config_hash"),
                "train_code": code_label(prov.get("train_code") or prov.get("code")),
                "train_mixtures": train.get("train_mixtures", prov.get("train_mixtures")),
                "train_seconds": prov.get("train_seconds"), "wall_seconds": prov.get("wall_seconds"),
                "remix_error_db": (record.get("unsupervised") or {}).get("remix_error_db"), "path": str(path),
            })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("mean", "ci_low", "ci_high", "baseline", *REFERENCE_COLUMNS, "remix_error_db"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def collect_curves(root: Path = Path("results")):
    """The metric-against-NFE curves of flow cells: one row per cell, split, NFE and metric."""
    import pandas as pd

    rows = []
    for _, record in score_records(root):
        split = record.get("split") or "test"
        for point in record.get("nfe_curve") or []:
            for name, value in point.items():
                if name != "nfe":
                    rows.append({"dataset": record["dataset"], "method": record["method"],
                                 "preset": record.get("preset"), "variant": record.get("variant"),
                                 "seed": record.get("seed"), "split": split, "nfe": point["nfe"],
                                 "metric": name, "value": value})
    return pd.DataFrame(rows, columns=[*CELL_KEY, "split", "nfe", "metric", "value"])



def curves_of_cells(curves, cells):
    """The rows of ``curves`` (``collect_curves``) that belong to ``cells`` (any frame with the
    ``CELL_KEY`` columns). The preset is part of the key: presets reuse variant names ('default')."""
    return curves.merge(cells[CELL_KEY].drop_duplicates(), on=CELL_KEY)
