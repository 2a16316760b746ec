"""Provenance of a result: code version, packages, device (docs/architecture.md, "Results")."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("torch", "numpy", "scipy", "pandas", "surf-bench", "soundfile", "mlxtend", "typer", "filelock")


def code_version() -> dict:
    """Version, git commit and whether the code that computes results (the package, the plugin
    folders, pyproject.toml) differs from that commit, untracked plugin files included."""
    root = Path(__file__).resolve().parents[2]  # the checkout: surf_bench/engine/provenance.py
    paths = ["surf_bench", "methods", "datasets", "pyproject.toml"]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=root, capture_output=True,
                                text=True, timeout=10)
        commit = head.stdout.strip() if head.returncode == 0 else ""
        dirty = bool(status.stdout.strip()) if status.returncode == 0 and commit else None
        changed = [line[3:] for line in status.stdout.splitlines()][:50] if dirty else []
    except (OSError, subprocess.SubprocessError):
        commit, dirty, changed = "", None, []
    from .. import __version__

    return {"version": __version__, "git_commit": commit or "unknown", "git_dirty": dirty,
            "git_changed": changed}


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; else the platform's processor or machine)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(device: str) -> str:
    """The device a cell ran on. On CPU also the kernels' instruction set (torch's CPU capability, e.g.
    AVX2 / AVX512): the same seed and code on another instruction set rounds differently, so training
    diverges like another seed would (docs/architecture.md, "Results")."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(torch.device(device))}"
    capability = torch.backends.cpu.get_cpu_capability()
    return f"cpu:{cpu_model()} ({capability}) x{torch.get_num_threads()} threads"
