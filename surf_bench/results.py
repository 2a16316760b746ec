"""Cell layout on disk, atomic writes and provenance.

A cell is (dataset, method, preset, seed): ``<out>/<dataset>/<method>/<preset>/seed<N>/`` holds
metrics.json, items.csv (per-item rows), checkpoint.pt (resumable state), model.pt (final
weights), train_log.csv and a lock file while training.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import torch

from .errors import SurfBenchError

PACKAGES = ("torch", "numpy", "scipy", "pandas", "surf-bench", "soundfile", "mlxtend")


def cell_dir(out: Path, dataset: str, method: str, preset: str, seed: int) -> Path:
    return Path(out) / dataset / method / preset / f"seed{seed}"


def ensure_writable(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=directory, prefix=".probe", delete=True)
        probe.close()
    except OSError as exc:
        raise SurfBenchError(f"output directory {directory} is not writable ({exc.strerror}); "
                             "choose another with --out") from None
    return directory


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n").encode())


def atomic_torch_save(path: Path, obj) -> None:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def atomic_write_csv(path: Path, frame) -> None:
    atomic_write_bytes(path, frame.to_csv(index=False).encode())


def code_version() -> dict:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=5).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=5).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    from . import __version__

    return {"version": __version__, "git_commit": commit or "unknown", "git_dirty": dirty}


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_description(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(torch.device(device))}"
    return f"cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"


def load_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SurfBenchError(f"cannot read {path}: {exc}") from None
