"""Frechet distance between Gaussians (Dowson & Landau 1982), the core of FID (Heusel et al. 2017):

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

Tr (S1 S2)^(1/2) is computed as sum_i sqrt(lambda_i(A S2 A)) with A = S1^(1/2) (symmetric
eigendecompositions): S1 S2 is similar to the PSD matrix A S2 A, so both have the same
eigenvalues, and this avoids the complex, sometimes unstable general ``sqrtm``.
"""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (ddof 1) of features [N, D]."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(0), np.atleast_2d(np.cov(features, rowvar=False))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr (S1 S2)^(1/2) for symmetric PSD S1, S2."""
    root = _psd_sqrt(sigma1)
    inner = root @ sigma2 @ root
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, float)), np.atleast_1d(np.asarray(mu2, float))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, float)), np.atleast_2d(np.asarray(sigma2, float))
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature sets [N1, D], [N2, D]."""
    return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))
