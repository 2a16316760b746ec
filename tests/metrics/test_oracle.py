"""Scores against the exact posterior (surf_bench/metrics/oracle.py) through the evaluator: a method
that samples the exact posterior is scored as the exact-sample row, one that returns the Bayes
estimate as the Bayes row, and the do-nothing mixture below both; the table shows the two rows."""

import math

import numpy as np
import pytest
import torch

from surf_bench import config
from surf_bench.data.gmm_sources import GaussianMixtureImages
from surf_bench.engine.evaluate import evaluate
from surf_bench.metrics.oracle import pit_mse, sliced_wasserstein

pytest.importorskip("mlxtend")
pytest.importorskip("ot")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    adapter = GaussianMixtureImages("gmm2", 2, n_train=8, n_valid=8, n_test=200)
    return adapter.open("test", tmp_path_factory.mktemp("gmm"))


def smoke_cfg(**eval_overrides):
    cfg = config.resolve("smoke", "image", {}, None, {"eval.n_items": 200, "eval.batch_size": 100,
                                                      "eval.lpips_items": 0, "eval.fid_items": 0,
                                                      "eval.cls_items": 0, **eval_overrides})
    return cfg


class PosteriorSampler:
    """A test-only method: one exact posterior sample per call, from the split's own posterior
    (what a perfect flow sampler would return)."""

    kind = "regression"

    def __init__(self, posterior, shape):
        self.posterior, self.shape = posterior, shape

    def separate(self, mix, nfe=None, generator=None):
        y = mix.double().flatten(1)
        s = self.posterior.sample(y, 1, generator)[:, 0]
        return s.float().view(len(mix), -1, *self.shape)


class BayesEstimator(PosteriorSampler):
    def separate(self, mix, nfe=None, generator=None):
        y = mix.double().flatten(1)
        samples = self.posterior.sample(y, 256, torch.Generator().manual_seed(99))
        return self.posterior.pit_mean(y, samples).float().view(len(mix), -1, *self.shape)


def test_an_exact_sampler_scores_as_the_exact_sample_row(split):
    method = PosteriorSampler(split.exact_posterior(), split.spec.item_shape)
    result = evaluate(method, split, smoke_cfg(), "cpu")
    sample_row = result["references"]["posterior_sample"]
    assert result["metrics"]["spread_ratio"] == pytest.approx(1.0, abs=0.12)
    assert result["metrics"]["psnr"] == pytest.approx(sample_row["psnr"], abs=0.4)
    assert result["metrics"]["mmse_gap_db"] == pytest.approx(sample_row["mmse_gap_db"], abs=0.4)
    assert 1.5 < result["metrics"]["mmse_gap_db"] < 3.3  # at most 2x the MMSE, less under PIT
    # Its residuals are distributed as exact samples': SW near the sample row's floor, far below a point estimate's.
    assert result["metrics"]["posterior_sw"] < 1.5 * sample_row["posterior_sw"]
    assert result["metrics"]["posterior_sw"] < 0.6 * result["references"]["bayes_mean"]["posterior_sw"]


def test_the_bayes_estimate_scores_as_the_bayes_row_and_beats_the_mixture(split):
    method = BayesEstimator(split.exact_posterior(), split.spec.item_shape)
    result = evaluate(method, split, smoke_cfg(), "cpu")
    bayes_row = result["references"]["bayes_mean"]
    assert bayes_row["mmse_gap_db"] == 0.0 and bayes_row["spread_ratio"] == 0.0
    assert abs(result["metrics"]["mmse_gap_db"]) < 0.1  # two Monte Carlo estimates of the same point
    assert result["metrics"]["spread_ratio"] == pytest.approx(0.0, abs=1e-9)
    assert bayes_row["psnr"] > result["references"]["posterior_sample"]["psnr"] > result["baseline"]["psnr"]
    assert result["baseline"]["mmse_gap_db"] > 3.0 and result["baseline"]["spread_ratio"] == 0.0
    items = result["items"]
    # Per-item rows: the method's MSE and the references' beside the mixture's.
    assert {"mse", "spread", "psnr_bayes_mean", "mse_bayes_mean", "psnr_posterior_sample", "mse_mixture"} <= set(items)
    ratio = 10 * np.log10(items["mse_mixture"].sum() / items["mse_bayes_mean"].sum())
    assert ratio == pytest.approx(result["baseline"]["mmse_gap_db"], abs=1e-9)


def test_unbounded_sources_are_scored_without_the_clamp(split):
    """The oracle sets leave [0, 1]: PSNR is computed on the raw estimate (no move toward [0, 1])."""
    assert not split.spec.bounded
    refs = split.sources_batch(torch.arange(4))
    assert refs.min() < 0 or refs.max() > 1
    from surf_bench.metrics import score

    raw = score(split.spec, refs.clone(), refs, refs.sum(1))
    assert np.all(raw["psnr"] >= 99)  # exact estimates: the 1e-10 floor, never a clamp error


def test_oracle_helpers_against_direct_formulas():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 2, 1, 3, 3, generator=g), torch.randn(5, 2, 1, 3, 3, generator=g)
    want = [min(((a[i] - b[i]).pow(2).mean().item(), (a[i] - b[i].flip(0)).pow(2).mean().item())) for i in range(5)]
    assert np.allclose(pit_mse(a, b), want)
    x = np.random.default_rng(0).normal(size=(300, 4))
    assert sliced_wasserstein(x, x) == pytest.approx(0.0, abs=1e-12)
    assert sliced_wasserstein(x, x + 1.0) == pytest.approx(1.0, rel=0.25)  # a shift of 1 along every axis
    assert math.isfinite(sliced_wasserstein(x, x[::-1] * 2))


def test_flows_get_the_oracle_metrics_at_every_nfe(split):
    class NoisyFlow(PosteriorSampler):
        kind = "flow"

    cfg = smoke_cfg()
    method = NoisyFlow(split.exact_posterior(), split.spec.item_shape)
    result = evaluate(method, split, cfg, "cpu")
    assert [p["nfe"] for p in result["nfe_curve"]] == list(dict.fromkeys([*cfg.flow.nfe_curve, cfg.flow.nfe]))
    for point in result["nfe_curve"]:
        assert {"psnr", "mmse_gap_db", "spread_ratio", "posterior_sw"} <= set(point)
