"""Aggregates of per-item rows: the mean and a 95% percentile bootstrap interval over items
(Efron & Tibshirani 1993), optionally weighted (FUSS pools its scores over active pairs, so an item
weighs its number of scored pairs; the bootstrap still resamples whole items)."""

from __future__ import annotations

import numpy as np
import pandas as pd

BOOT_CHUNK = 2_000_000  # resampled indices per chunk (bounds memory for large sets)


def _clean(values, weights):
    values = np.asarray(values, dtype=float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=float)
    keep = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    return values[keep], weights[keep]


def weighted_mean(values, weights=None) -> float:
    """sum w v / sum w over finite values (NaN when there are none)."""
    values, weights = _clean(values, weights)
    return float((values * weights).sum() / weights.sum()) if len(values) else float("nan")


def bootstrap_ci(values, n_boot: int = 1000, seed: int = 0, level: float = 0.95, weights=None):
    """Percentile bootstrap interval of the (weighted) mean, resampling items with replacement."""
    values, weights = _clean(values, weights)
    if len(values) == 0 or n_boot <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    per_chunk = max(1, BOOT_CHUNK // len(values))
    means = []
    for start in range(0, n_boot, per_chunk):
        idx = rng.integers(0, len(values), size=(min(per_chunk, n_boot - start), len(values)))
        means.append((values[idx] * weights[idx]).sum(1) / weights[idx].sum(1))
    low, high = np.quantile(np.concatenate(means), [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)


def aggregate(frame: pd.DataFrame, metrics: list[str], n_boot: int, weights: str | None = None,
              seed: int = 0) -> dict:
    """{name: mean, name_ci95: [low, high]} per metric; a metric absent from ``frame`` is NaN."""
    out = {}
    w = frame[weights].to_numpy(dtype=float) if weights and weights in frame and len(frame) else None
    for name in metrics:
        values = frame[name].to_numpy(dtype=float) if name in frame else np.array([])
        out[name] = weighted_mean(values, w if len(values) else None)
        out[f"{name}_ci95"] = list(bootstrap_ci(values, n_boot, seed, weights=w if len(values) else None))
    return out


def aggregate_fuss(frame: pd.DataFrame, extra: list[str], n_boot: int, n_slots: int, seed: int = 0):
    """FUSS aggregates and item counts per source number (see surf_bench.metrics for the names).

    si_sdr pools every active pair; si_sdri, si_sdri_msi pool the 2..K-source mixtures; si_sdr_1src and
    si_sdri_<n>src restrict to n-source mixtures; sep_* are rates over mixtures with an active
    reference; extra metrics (sdr, pesq) are plain item means.
    """
    n_src = frame["n_src"].to_numpy()
    out = aggregate(frame, ["si_sdr", "si_sdri"], n_boot, weights="n_pairs", seed=seed)
    counts = {"items_no_source": int((n_src == 0).sum())}
    subsets = {"si_sdr_1src": ("si_sdr", n_src == 1), "si_sdri_msi": ("si_sdri", n_src >= 2)}
    subsets.update({f"si_sdri_{n}src": ("si_sdri", n_src == n) for n in range(2, n_slots + 1)})
    for name, (column, mask) in subsets.items():
        sub = frame.loc[mask, [column, "n_pairs"]].rename(columns={column: name})
        out.update(aggregate(sub, [name], n_boot, weights="n_pairs", seed=seed))
    for n in range(1, n_slots + 1):
        counts[f"items_{n}src"] = int((n_src == n).sum())
    scored = frame[n_src > 0]
    n_est, n_ref = scored["n_est"].to_numpy(), scored["n_src"].to_numpy()
    rates = pd.DataFrame({"sep_under": (n_est < n_ref).astype(float),
                          "sep_equal": (n_est == n_ref).astype(float),
                          "sep_over": (n_est > n_ref).astype(float)})
    out.update(aggregate(rates, list(rates.columns), n_boot, seed=seed))
    out.update(aggregate(frame, extra, n_boot, seed=seed))
    return out, counts
