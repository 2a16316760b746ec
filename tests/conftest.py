import os
import tempfile

import pytest
import torch

os.environ.setdefault("SURF_BENCH_DATA", "/nonexistent-surf-bench-data")
# Hermetic image metrics: a weights cache fetched on this machine must not change what tests see.
os.environ["SURF_BENCH_WEIGHTS"] = tempfile.mkdtemp(prefix="surf-bench-test-weights-")
for _name in ("SURF_BENCH_FID_WEIGHTS", "SURF_BENCH_LPIPS_WEIGHTS"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    torch.manual_seed(0)
    yield
