"""Data contract: adapters, splits, the leak-proof mixtures-only view and batching."""
