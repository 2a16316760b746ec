"""The evaluator: per-item rows, the mixture baseline, protocols, extra metrics, NFE curves, and
missing optional metrics recorded instead of crashing."""

import builtins
import logging
import math

import numpy as np
import pytest
import torch

from surf_bench.config import RunConfig
from surf_bench.data.base import DataSpec, SourceSplit
from surf_bench.engine import evaluate as evaluate_mod
from surf_bench.engine.evaluate import evaluate
from surf_bench.metrics.frechet import fid_from_features


class ToySplit(SourceSplit):
    def __init__(self, spec, sources):
        self.spec = spec
        self._sources = sources

    def __len__(self):
        return len(self._sources)

    def item_ids(self):
        return [f"item{i}" for i in range(len(self))]

    def sources(self, i):
        return self._sources[i]

    def mixture(self, i):
        s = self._sources[i]
        return s.mean(0) if self.spec.mixing == "mean" else s.sum(0)


def image_split(n=12, k=2):
    g = torch.Generator().manual_seed(0)
    spec = DataSpec("toy-image", "image", k, (1, 8, 8), "mean")
    return ToySplit(spec, torch.rand(n, k, 1, 8, 8, generator=g))


def audio_split(n=10, k=2, silent=False, length=2000):
    g = torch.Generator().manual_seed(1)
    sources = torch.randn(n, k, length, generator=g)
    if silent:  # FUSS-like: item i has 1 + i % k active sources
        for i in range(n):
            sources[i, 1 + i % k:] = 0
    return ToySplit(DataSpec("toy-audio", "audio", k, (length,), "sum", 16000), sources)


class Oracle:
    """Returns the true sources (slots reversed), plus noise that shrinks with the NFE for flows."""

    consistent = False  # the noise is not projected: its estimates need not sum to the mixture

    def __init__(self, split, kind="regression", noise=0.0):
        self.kind = kind
        self.noise = noise
        self.split = split
        self.mixes = torch.stack([split.mixture(i) for i in range(len(split))]).flatten(1)

    def separate(self, mix, nfe=None, generator=None):
        flat = mix.flatten(1) / (self.split.spec.n_slots if self.split.spec.mixing == "mean" else 1)
        index = torch.cdist(flat, self.mixes).argmin(1)
        est = torch.stack([self.split.sources(int(i)) for i in index]).flip(1)
        if self.noise:
            active = est.flatten(2).abs().amax(-1) > 0  # silent slots stay silent
            noise = self.noise / (nfe or 1) * torch.randn(est.shape, generator=generator)
            est = est + noise * active.view(*active.shape, *[1] * (est.ndim - 2))
        return est


def config(n_items=0, batch_size=4):
    cfg = RunConfig()
    cfg.eval.n_items = n_items
    cfg.eval.batch_size = batch_size
    cfg.eval.bootstrap = 100
    cfg.flow.nfe = 4
    cfg.flow.nfe_curve = (1, 2)
    return cfg


@pytest.fixture(autouse=True)
def _fresh_logs(monkeypatch):
    monkeypatch.setattr(evaluate_mod, "_LOGGED", set())
    monkeypatch.setattr(evaluate_mod, "_NETWORKS", {})


def test_image_oracle_rows_baseline_and_missing_fid(caplog, monkeypatch):
    monkeypatch.setenv("SURF_BENCH_FID_WEIGHTS", "/nonexistent/inception.pth")
    split = image_split()
    with caplog.at_level(logging.WARNING, logger="surf_bench.engine.evaluate"):
        result = evaluate(Oracle(split), split, config(), "cpu")
        evaluate(Oracle(split), split, config(), "cpu")
    assert result["protocol"] == "pit"
    assert result["metrics"]["psnr"] == pytest.approx(100.0)  # exact sources hit the 1e-10 MSE floor
    assert result["baseline"]["psnr"] < 30
    items = result["items"]
    assert len(items) == 12 and {"item", "psnr", "psnr_mixture"} <= set(items.columns)
    for name in ("fid", "lpips"):
        assert math.isnan(result["metrics"][name]) and math.isnan(result["baseline"][name])
        assert result["missing"][name].startswith(f"{name}:")
    fid_lines = [r for r in caplog.records if "metric fid skipped" in r.getMessage()]
    assert len(fid_lines) == 1  # one line, even over two evaluations
    assert set(result["metrics"]) == set(result["baseline"])


def test_fid_and_lpips_plumbing_with_stand_in_networks(monkeypatch):
    features = lambda images: images.flatten(1)[:, :6].double().numpy()  # noqa: E731
    distance = lambda est, ref: (est.clamp(0, 1) - ref).abs().flatten(1).mean(1)  # noqa: E731
    networks = {"fid": features, "lpips": distance}
    monkeypatch.setattr(evaluate_mod, "_network", lambda name, device, cfg: networks[name])
    split = image_split(n=20)
    extra = {"lpips": 5, "fid": None}
    result = evaluate(Oracle(split), split, config(n_items=15), "cpu", extra_metrics=extra)
    assert result["metrics"]["fid"] == pytest.approx(0.0, abs=1e-9)
    assert result["metrics"]["lpips"] == pytest.approx(0.0, abs=1e-7)  # aligned despite the swapped slots
    assert result["counts"]["fid_images"] == 30 and result["counts"]["lpips_items"] == 5
    refs = torch.stack([split.sources(i) for i in range(15)])
    share = refs.mean(1, keepdim=True).expand_as(refs)
    want = fid_from_features(features(share.flatten(0, 1)), features(refs.flatten(0, 1)))
    assert result["baseline"]["fid"] == pytest.approx(want, rel=1e-9)
    assert result["items"]["lpips"].notna().sum() == 5


def test_two_speaker_audio_uses_plain_pit_with_sdr_on_the_first_items():
    split = audio_split()
    result = evaluate(Oracle(split, noise=0.3), split, config(), "cpu", extra_metrics={"sdr": 3, "pesq": 0})
    assert result["protocol"] == "pit"
    metrics, baseline = result["metrics"], result["baseline"]
    assert set(metrics) == {"si_sdr", "si_sdr_ci95", "si_sdri", "si_sdri_ci95", "sdr", "sdr_ci95"}
    assert metrics["si_sdr"] == pytest.approx(10 * np.log10(1 / 0.09), abs=0.6)
    assert baseline["si_sdri"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["si_sdri"] > 10
    assert result["counts"]["sdr_items"] == 3
    assert result["items"]["sdr"].notna().tolist() == [True] * 3 + [False] * 7
    assert metrics["sdr"] > metrics["si_sdr"] - 1  # SDR allows a filter: at least about SI-SDR


def test_sdr_and_pesq_limits_come_from_config_fields_when_present():
    split = audio_split(n=6)
    cfg = config()
    cfg.eval.sdr_items, cfg.eval.pesq_items = 2, 0  # what the config will carry
    result = evaluate(Oracle(split, noise=0.1), split, cfg, "cpu")
    assert result["counts"] == {"sdr_items": 2}


def test_silent_slots_switch_to_the_fuss_protocol():
    split = audio_split(n=12, k=4, silent=True)
    result = evaluate(Oracle(split, noise=0.2), split, config(), "cpu", extra_metrics={"sdr": 0, "pesq": 0})
    assert result["protocol"] == "fuss"
    m = result["metrics"]
    for name in ("si_sdr", "si_sdri", "si_sdr_1src", "si_sdri_2src", "si_sdri_3src", "si_sdri_4src",
                 "si_sdri_msi", "sep_under", "sep_equal", "sep_over"):
        assert math.isfinite(m[name]), name
    assert m["si_sdri"] == pytest.approx(m["si_sdri_msi"])
    assert m["sep_equal"] == 1.0  # the oracle's silent slots stay silent
    assert result["baseline"]["sep_over"] == pytest.approx(9 / 12)  # K equal shares are all active
    assert result["counts"]["items_1src"] == 3 and result["counts"]["items_4src"] == 3
    items = result["items"]
    assert items["si_sdri"].isna().sum() == 3  # 1-source mixtures have no SI-SDRi
    assert (items["n_pairs"] == items["n_src"]).all()


def test_flow_methods_get_a_curve_against_the_nfe():
    split = audio_split(n=8)
    result = evaluate(Oracle(split, kind="flow", noise=1.0), split, config(), "cpu", extra_metrics={})  # none
    curve = result["nfe_curve"]
    assert [c["nfe"] for c in curve] == [1, 2, 4]
    assert curve[0]["si_sdr"] < curve[1]["si_sdr"] < curve[2]["si_sdr"]
    assert result["nfe"] == 4
    assert result["metrics"]["si_sdr"] == pytest.approx(curve[2]["si_sdr"])


def test_pesq_skips_are_counted_and_a_missing_package_is_recorded(monkeypatch):
    split = audio_split(n=4, length=800)  # 50 ms of noise: too short for PESQ
    result = evaluate(Oracle(split, noise=0.1), split, config(), "cpu", extra_metrics={"pesq": 2})
    assert math.isnan(result["metrics"]["pesq"]) and result["counts"]["pesq_items"] == 0
    assert sum(result["metric_notes"].values()) == 2 * 2 * 2  # items x slots x (method, baseline)
    real_import = builtins.__import__

    def no_pesq(name, *args, **kwargs):
        if name == "pesq":
            raise ImportError("No module named 'pesq'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pesq)
    result = evaluate(Oracle(split, noise=0.1), split, config(), "cpu", extra_metrics={"pesq": 2})
    assert "pesq" in result["missing"] and math.isnan(result["metrics"]["pesq"])
