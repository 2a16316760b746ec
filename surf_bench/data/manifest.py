"""Deterministic manifests on disk: atomic CSV/JSON writes, CSV reads with clear errors, hashing,
and a build-once cache folder (built in a temp folder and renamed, under a file lock, so a killed
build never leaves a half dataset)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import DataError


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    """Atomic CSV with a header; ``columns`` fixes the order (default: the first row's keys)."""
    columns = columns or (list(rows[0]) if rows else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row[c] for c in columns] for row in rows])
    atomic_write_text(path, buffer.getvalue())


def read_csv(path: Path, required: Iterable[str], what: str) -> list[dict]:
    """Rows of a CSV as dicts; a missing file, a missing column or an empty body is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what}: missing file {path}")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(header) or 'nothing'})"
        )
    if not rows:
        raise DataError(f"{what}: {path} lists no items (empty split)")
    return rows


def hash_lines(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def file_digest(path: Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cached_build(folder: Path, version: str, params: dict, build: Callable[[Path], None]) -> Path:
    """Return ``folder`` holding the output of ``build(tmp_folder)`` for these ``params``.

    The build runs in a sibling temp folder that is renamed into place, so ``folder`` is either
    absent or complete. ``build_info.json`` records version + params; a mismatch rebuilds.
    """
    from filelock import FileLock

    folder = Path(folder)
    info = {"version": version, "params": params}
    if _matches(folder, info):
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the dataset cache {folder.parent} ({exc.strerror}); set SURF_BENCH_DATA "
            "or --data-root to a writable folder"
        ) from None
    with FileLock(str(folder.parent / f".{folder.name}.lock")):
        if _matches(folder, info):
            return folder
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.building."))
        try:
            build(tmp)
            (tmp / "build_info.json").write_text(json.dumps(info, indent=1, sort_keys=True))
            if folder.exists():
                stale = folder.with_name(f".{folder.name}.stale.{os.getpid()}")
                os.replace(folder, stale)
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _matches(folder: Path, info: dict) -> bool:
    try:
        return json.loads((folder / "build_info.json").read_text()) == json.loads(json.dumps(info))
    except (OSError, ValueError):
        return False
