"""surf-bench: a benchmark harness for unsupervised source separation with flow matching."""

__version__ = "0.1.0"
