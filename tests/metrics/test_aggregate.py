"""Means and percentile bootstrap intervals of per-item rows."""

import numpy as np
import pandas as pd
import pytest

from surf_bench.engine.evaluate import aggregate, bootstrap_ci
from surf_bench.metrics.aggregate import weighted_mean


def test_interval_contains_the_sample_mean_and_ignores_nan():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 2.0, size=200)
    low, high = bootstrap_ci(np.append(values, [np.nan, np.inf]), n_boot=2000)
    assert low < values.mean() < high
    # the width of a 95% interval of a mean is about 2 x 1.96 sigma / sqrt(n)
    assert high - low == pytest.approx(2 * 1.96 * values.std() / np.sqrt(200), rel=0.15)


def test_interval_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(1)
    hits = 0
    reps = 200
    for rep in range(reps):
        low, high = bootstrap_ci(rng.exponential(1.0, size=80), n_boot=400, seed=rep)
        hits += low <= 1.0 <= high
    assert 0.88 <= hits / reps <= 0.99


def test_weighted_mean_and_chunked_bootstrap():
    assert weighted_mean([1.0, 3.0, np.nan], [1, 3, 5]) == pytest.approx(2.5)
    values = np.arange(10.0)
    low, high = bootstrap_ci(values, n_boot=50, weights=np.ones(10))
    assert low <= 4.5 <= high


def test_aggregate_reports_mean_interval_and_missing_metric():
    frame = pd.DataFrame({"psnr": [10.0, 12.0, 14.0, np.nan]})
    out = aggregate(frame, ["psnr", "lpips"], n_boot=100)
    assert out["psnr"] == pytest.approx(12.0)
    assert out["psnr_ci95"][0] <= 12.0 <= out["psnr_ci95"][1]
    assert np.isnan(out["lpips"]) and all(np.isnan(out["lpips_ci95"]))
