"""Fixtures for the data tests: no network (only loopback), adapters by name, small files in the
real on-disk formats."""

import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from surf_bench import registry

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any lookup of a non-loopback host fails at once, as on a machine with no network."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, "network disabled in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def adapter():
    return registry.get_dataset


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t)) * 0.01
    return (amp * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write(path: Path, x: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, rate, subtype=subtype)
    return path


def corrupt(path: Path) -> None:
    """Keep the name, destroy the content (a broken download)."""
    path.write_bytes(b"this is not audio" * 10)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


class Helpers:
    tone = staticmethod(tone)
    write = staticmethod(write)
    corrupt = staticmethod(corrupt)
    truncate = staticmethod(truncate)


@pytest.fixture
def h():
    """Fixture-file helpers (tests import nothing from conftest under --import-mode=importlib)."""
    return Helpers
