"""The FUSS protocol: active references, active estimates (> 1% of the quietest active reference's
power), scored pairs, SI-SDR for 1-source mixtures, pooled aggregates and separation rates."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm_si_sdr

from surf_bench.metrics.aggregate import aggregate_fuss
from surf_bench.metrics.audio import audio_slot_scores, summarise

T = 4000


def _unit(g):
    x = torch.randn(T, generator=g, dtype=torch.float64)
    return x / x.pow(2).mean().sqrt()  # power 1


def _planted():
    """Item 0: 2 active refs + 1 extra loud-enough estimate (over-separation).
    Item 1: 2 active refs, the estimate of the quiet one below 1% (under-separation).
    Item 2: 1 active ref."""
    g = torch.Generator().manual_seed(0)
    refs = torch.zeros(3, 4, T, dtype=torch.float64)
    est = torch.zeros(3, 4, T, dtype=torch.float64)
    refs[0, 0], refs[0, 1] = _unit(g), 0.5 * _unit(g)  # quietest active power 0.25
    est[0, 2] = refs[0, 0] + 0.3 * _unit(g)
    est[0, 0] = refs[0, 1] + 0.1 * _unit(g)
    est[0, 3] = math.sqrt(0.011 * 0.25) * _unit(g)  # 1.1% of 0.25: active, over-separation
    est[0, 1] = math.sqrt(0.009 * 0.25) * _unit(g)  # 0.9%: inactive
    refs[1, 1], refs[1, 3] = _unit(g), 0.5 * _unit(g)
    est[1, 0] = refs[1, 1] + 0.2 * _unit(g)
    est[1, 2] = 0.1 * math.sqrt(0.009 * 0.25) * (refs[1, 3] / 0.5 + 0.5 * _unit(g))  # inactive, right source
    refs[2, 2] = _unit(g)
    est[2, 1] = refs[2, 2] + 0.05 * _unit(g)
    return est, refs


def _si(e, r):
    return tm_si_sdr(e, r, zero_mean=True).item()


def test_active_pair_rule_on_planted_silent_slots():
    est, refs = _planted()
    mix = refs.sum(1)
    raw = audio_slot_scores(est, refs, mix)
    out = summarise(raw, "fuss")
    assert out["n_src"].tolist() == [2, 2, 1]
    assert out["n_est"].tolist() == [3, 1, 1]
    assert out["n_pairs"].tolist() == [2, 1, 1]
    want0 = [_si(est[0, 2], refs[0, 0]), _si(est[0, 0], refs[0, 1])]
    mix0 = [_si(mix[0], refs[0, 0]), _si(mix[0], refs[0, 1])]
    assert out["si_sdr"][0] == pytest.approx(np.mean(want0), abs=1e-6)
    assert out["si_sdri"][0] == pytest.approx(np.mean(want0) - np.mean(mix0), abs=1e-6)
    # Item 1: only the loud pair is scored although the quiet estimate matches its source.
    assert out["si_sdr"][1] == pytest.approx(_si(est[1, 0], refs[1, 1]), abs=1e-6)
    assert out["si_sdri"][1] == pytest.approx(_si(est[1, 0], refs[1, 1]) - _si(mix[1], refs[1, 1]), abs=1e-6)
    # Item 2: one source -> SI-SDR (reconstruction), no SI-SDRi.
    assert out["si_sdr"][2] == pytest.approx(_si(est[2, 1], refs[2, 2]), abs=1e-6)
    assert math.isnan(out["si_sdri"][2])
    # The plain protocol scores every active reference, including the quiet estimate of item 1.
    plain = summarise(raw, "pit")
    assert plain["si_sdr"][1] == pytest.approx((_si(est[1, 0], refs[1, 1]) + _si(est[1, 2], refs[1, 3])) / 2,
                                               abs=1e-6)


def test_fuss_aggregates_pool_active_pairs():
    frame = pd.DataFrame({
        "si_sdr": [20.0, 10.0, 4.0, 6.0, 8.0],
        "si_sdri": [np.nan, 5.0, 3.0, 9.0, np.nan],
        "n_src": [1, 2, 3, 4, 0],
        "n_est": [1, 3, 2, 4, 2],
        "n_pairs": [1, 2, 2, 4, 0],
    })
    out, counts = aggregate_fuss(frame, [], n_boot=200, n_slots=4)
    assert out["si_sdr_1src"] == pytest.approx(20.0)
    assert out["si_sdri_2src"] == pytest.approx(5.0)
    assert out["si_sdri_4src"] == pytest.approx(9.0)
    assert out["si_sdri_msi"] == pytest.approx((5 * 2 + 3 * 2 + 9 * 4) / 8)  # pooled over pairs
    assert out["si_sdri"] == pytest.approx(out["si_sdri_msi"])
    assert out["si_sdr"] == pytest.approx((20 + 10 * 2 + 4 * 2 + 6 * 4) / 9)
    assert out["sep_over"] == pytest.approx(1 / 4)
    assert out["sep_under"] == pytest.approx(1 / 4)
    assert out["sep_equal"] == pytest.approx(2 / 4)
    assert counts == {"items_no_source": 1, **{f"items_{n}src": 1 for n in range(1, 5)}}
    low, high = out["si_sdri_msi_ci95"]
    assert low <= out["si_sdri_msi"] <= high
