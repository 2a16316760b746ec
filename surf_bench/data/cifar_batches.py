"""CIFAR-10 "python version" batches (https://www.cs.toronto.edu/~kriz/cifar.html): pickled dicts
with ``b'data'`` (uint8 [N, 3072], channel-major 3x32x32) and ``b'labels'``. The unpickler only
admits the numpy reconstruction helpers such a file needs, so a hostile pickle cannot run code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) of one batch file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing CIFAR-10 batch {path}")
    try:
        with open(path, "rb") as handle:
            batch = _SafeUnpickler(handle, encoding="bytes").load()
    except Exception as exc:  # pickle raises many types on a damaged file
        raise DataError(
            f"{path}: corrupt or truncated CIFAR-10 batch ({type(exc).__name__}: {exc}); re-download it"
        ) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{path}: not a CIFAR-10 batch (no b'data' / b'labels')")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(
            f"{path}: b'data' must be uint8 [N, 3072] with N labels, got {data.dtype} {data.shape} "
            f"and {len(labels)} labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


def write_batch(path: str | Path, images: np.ndarray, labels) -> None:
    """Write a batch in the published layout (protocol 2, bytes keys); used to make test fixtures."""
    batch = {
        b"batch_label": b"fixture",
        b"labels": list(map(int, labels)),
        b"data": np.asarray(images, dtype=np.uint8).reshape(len(images), 3072),
        b"filenames": [f"img{i}.png".encode() for i in range(len(images))],
    }
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=2)
