"""Scores against the exact posterior, on datasets that have one (docs/architecture.md, "Oracle datasets").

Reference estimates, scored like a method by the same metric code:
- ``bayes_mean``: the PIT-aligned posterior mean (oracle/posterior.py, ``pit_mean``), the point
  estimate of least expected PIT-MSE, from ``n_samples`` exact samples per mixture;
- ``posterior_sample``: one exact posterior sample per mixture.

Oracle metrics of any estimator (set level; PIT alignment by least MSE over the K slots):
- ``mmse_gap_db`` = 10 log10( sum_i mse(est_i, x_i) / sum_i mse(bayes_i, x_i) ): 0 dB at the Bayes
  optimum, about +3 dB for an exact sample (less where PIT picks the closer order);
- ``spread_ratio`` = sum_i d(est_i, est'_i) / sum_i d(s_i, s'_i), d the PIT-aligned mean squared
  distance, est' a second estimate with other noise, s, s' two exact samples: 0 for a point
  estimator, 1 for a calibrated sampler;
- ``posterior_sw``: sliced 2-Wasserstein distance (POT, ``ot.sliced_wasserstein_distance``) between
  the residuals est_i - bayes_i (est PIT-aligned to bayes_i) and those of exact samples, over the
  items; 0 for a sampler of the exact posterior up to the finite-sample floor, which the
  ``posterior_sample`` row reports (a second set of exact samples against the first).
Intervals: the item bootstrap of the ratio of sums (mmse_gap_db, spread_ratio); none for posterior_sw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..maths.pit import best_permutation, pairwise_mse, permute_slots

REFERENCES = ("bayes_mean", "posterior_sample")
ORACLE_METRICS = ("mmse_gap_db", "spread_ratio", "posterior_sw")
SW_PROJECTIONS = 256


def pit_mse(est: torch.Tensor, other: torch.Tensor) -> np.ndarray:
    """Per item: min over slot permutations of the mean squared difference [B] (float64)."""
    est, other = est.double().flatten(2), other.double().flatten(2)
    cost = pairwise_mse(est, other)
    perm = best_permutation(cost)
    return cost.gather(2, perm.unsqueeze(-1)).squeeze(-1).mean(1).cpu().numpy()


def aligned_residual(est: torch.Tensor, anchor: torch.Tensor) -> np.ndarray:
    """est PIT-aligned to anchor, minus anchor, flattened [B, K * D] (float64)."""
    est, anchor = est.double().flatten(2), anchor.double().flatten(2)
    aligned = permute_slots(est, best_permutation(pairwise_mse(anchor, est)))
    return (aligned - anchor).flatten(1).cpu().numpy()


class OracleReferences:
    """The exact-posterior references of a split's mixtures: the Bayes estimate and four exact
    samples per mixture (s1 anchors posterior_sw, s1 and s2 normalise the spread, s3 and s4 are the
    exact-sample row's two draws)."""

    N_DRAWS = 4

    def __init__(self, posterior, n_samples: int = 128, seed: int = 0):
        self.posterior = posterior
        self.n_samples = n_samples
        self.seed = seed

    def batch(self, mix_sum: torch.Tensor, start: int) -> dict[str, torch.Tensor]:
        """{bayes [B, K, *S], draws [N_DRAWS, B, K, *S]} for summed mixtures [B, *S] (float32)."""
        shape = mix_sum.shape
        y = mix_sum.detach().double().cpu().flatten(1)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + start)
        samples = self.posterior.sample(y, self.n_samples + self.N_DRAWS, generator)  # [B, n, K, D]
        bayes = self.posterior.pit_mean(y, samples[:, : self.n_samples])
        draws = samples[:, self.n_samples:].transpose(0, 1)
        k = samples.shape[2]
        return {"bayes": bayes.float().view(shape[0], k, *shape[1:]).to(mix_sum.device),
                "draws": draws.float().reshape(self.N_DRAWS, shape[0], k, *shape[1:]).to(mix_sum.device)}


@dataclass
class OracleTally:
    """Accumulates one estimator's per-item oracle quantities over the batches of an evaluation."""

    mse: list = field(default_factory=list)
    spread: list = field(default_factory=list)
    residual: list = field(default_factory=list)

    def add(self, est: torch.Tensor, second: torch.Tensor | None, refs: torch.Tensor, bayes: torch.Tensor) -> None:
        self.mse.append(pit_mse(est, refs))
        self.spread.append(np.zeros(len(est)) if second is None else pit_mse(est, second))
        self.residual.append(aligned_residual(est, bayes))

    def items(self) -> dict[str, np.ndarray]:
        return {"mse": np.concatenate(self.mse), "spread": np.concatenate(self.spread)}


def _ratio_ci(num: np.ndarray, den: np.ndarray, n_boot: int, seed: int = 0) -> list[float]:
    if n_boot <= 0 or len(num) == 0:
        return [math.nan, math.nan]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(num), size=(n_boot, len(num)))
    ratios = num[idx].sum(1) / np.maximum(den[idx].sum(1), 1e-300)
    return [float(v) for v in np.quantile(ratios, [0.025, 0.975])]


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """SW_2 between two point clouds [N, dim] (POT), with a fixed set of projections."""
    import ot

    return float(ot.sliced_wasserstein_distance(a, b, n_projections=SW_PROJECTIONS, seed=seed))


def summarise(tally: OracleTally, bayes: OracleTally, exact: OracleTally, anchor: np.ndarray,
              n_boot: int) -> dict[str, float | list]:
    """The three oracle metrics of ``tally`` against the Bayes tally, the exact-sample spread
    normaliser (``exact``: s1 with s2) and the exact-sample residuals ``anchor`` (s1)."""
    mine, best, norm = tally.items(), bayes.items(), exact.items()
    gap_ci = _ratio_ci(mine["mse"], best["mse"], n_boot)
    spread_ci = _ratio_ci(mine["spread"], norm["spread"], n_boot)
    return {
        "mmse_gap_db": float(10 * np.log10(mine["mse"].sum() / best["mse"].sum())),
        "mmse_gap_db_ci95": [float(10 * np.log10(v)) if v > 0 else math.nan for v in gap_ci],
        "spread_ratio": float(mine["spread"].sum() / norm["spread"].sum()),
        "spread_ratio_ci95": spread_ci,
        "posterior_sw": sliced_wasserstein(np.concatenate(tally.residual), anchor),
        "posterior_sw_ci95": [math.nan, math.nan],
    }
