import os

import pytest
import torch

os.environ.setdefault("SURF_BENCH_DATA", "/nonexistent-surf-bench-data")


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    torch.manual_seed(0)
    yield
