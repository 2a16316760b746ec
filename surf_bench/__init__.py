"""surf-bench: a benchmark harness for unsupervised source separation with flow matching."""

import os

# Idle OpenMP threads sleep instead of spinning, so a run that shares its cores with other work
# slows down in proportion instead of collapsing (surf_bench.engine.threads; docs/architecture.md,
# "Environment"). It must be set before torch loads libgomp; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
