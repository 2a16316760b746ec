"""Frechet distance against closed forms for Gaussians, and against scipy's general sqrtm."""

import numpy as np
import pytest
import scipy.linalg

from surf_bench.metrics.frechet import fid_from_features, frechet_distance, gaussian_stats


def test_diagonal_covariances_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-10)


def test_one_dimensional_and_identical():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert frechet_distance([0, 1], cov, [0, 1], cov) == pytest.approx(0.0, abs=1e-10)


def test_general_covariances_against_scipy_sqrtm():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    s1, s2 = x @ x.T + 0.1 * np.eye(8), y @ y.T + 0.1 * np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    want = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-8)


def test_fid_from_samples_approaches_the_population_value():
    rng = np.random.default_rng(2)
    a = rng.normal(0.0, 1.0, size=(20000, 3))
    b = rng.normal(1.0, 2.0, size=(20000, 3))  # per dim: (0-1)^2 + (1-2)^2 = 2
    assert fid_from_features(a, b) == pytest.approx(6.0, rel=0.03)
    mu, cov = gaussian_stats(a)
    assert mu.shape == (3,) and cov.shape == (3, 3)
