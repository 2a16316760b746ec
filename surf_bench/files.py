"""Files written atomically, and read back: JSON and torch bytes, sha256, loading what this package
wrote (docs/architecture.md, "Results").

A cell folder (surf_bench.engine.cells) holds metrics.json / items.csv (the test score and its per-item
rows), metrics.valid.json / items.valid.csv (the validation score), checkpoint.pt (resumable
state, removed once the model is written), model.pt (final weights, config and training record),
train_log.csv and ``.lock`` (held by the process running the cell). Every file is written to a
temporary file in the same folder, fsynced, then renamed, so a crash leaves the old file or the
new one, never a part of one; a score file is renamed last and marks its split finished. Weight
caches (metrics/) are written the same way. Nothing here imports another module of surf_bench but
its errors.
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


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

_UMASK = _current_umask()


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


def load_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SurfBenchError(f"cannot read {path}: {exc}") from None
