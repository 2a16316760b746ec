"""Fixtures for the data tests: no network (only loopback), adapters by name, small files in the
real on-disk formats."""

import socket
from pathlib import Path

import pytest

from surf_bench import registry
from surf_bench.data.examples import tone, write_audio_file

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


write = write_audio_file  # the example datasets' writers (DatasetAdapter.example) are the fixtures' too


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
