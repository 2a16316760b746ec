"""The cell engine: a cell's identity and folder (cells), one cell run from request to score (runner),
the training loop (train) and its checkpoints (checkpoint), scoring (evaluate, criterion), the
plugin contract checked at run time (contract), what a result was computed from (fingerprint,
provenance), CPU threads (threads) and data parallelism over torchrun (distributed)."""
