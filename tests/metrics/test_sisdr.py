"""SI-SDR, SI-SDRi and PIT against torchmetrics, a closed form and brute force over permutations."""

import itertools
import math

import pytest
import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm_si_sdr

from surf_bench.metrics.audio import audio_slot_scores, pairwise_si_sdr, sisdr_pit, summarise


def _signals(batch=3, k=3, length=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    refs = torch.randn(batch, k, length, generator=g, dtype=torch.float64)
    est = refs.flip(1) + 0.5 * torch.randn(batch, k, length, generator=g, dtype=torch.float64)
    return est, refs


def test_pairwise_matches_torchmetrics():
    est, refs = _signals()
    got = pairwise_si_sdr(est, refs)
    a, b = torch.broadcast_tensors(est.unsqueeze(2), refs.unsqueeze(1))
    want = tm_si_sdr(a, b, zero_mean=True)
    close = want > -40  # far below, the 1e-12 power floors of both implementations differ
    assert close.sum() > 0
    torch.testing.assert_close(got[close], want[close], atol=1e-5, rtol=0)


def test_closed_form_scaled_copy_plus_orthogonal_noise():
    length = 8000
    s = torch.randn(length, dtype=torch.float64)
    s = s - s.mean()
    n = torch.randn(length, dtype=torch.float64)
    n = n - n.mean()
    n = n - (n @ s) / (s @ s) * s  # orthogonal to s
    target_db = 13.0
    n = n * torch.sqrt((s @ s) / (n @ n) / 10 ** (target_db / 10))
    est = 0.37 * s + 0.37 * n  # the scale does not matter
    got = pairwise_si_sdr(est.view(1, 1, -1), s.view(1, 1, -1))
    assert got.item() == pytest.approx(target_db, abs=1e-6)


def test_pit_matches_brute_force_over_permutations():
    est, refs = _signals(batch=4, k=4, seed=3)
    est = est[:, torch.randperm(4)]
    mix = refs.sum(1)
    si_sdr, si_sdri = sisdr_pit(est, refs, mix)
    for b in range(est.shape[0]):
        best = max(
            sum(tm_si_sdr(est[b, p[j]], refs[b, j], zero_mean=True).item() for j in range(4)) / 4
            for p in itertools.permutations(range(4))
        )
        mix_db = sum(tm_si_sdr(mix[b], refs[b, j], zero_mean=True).item() for j in range(4)) / 4
        assert si_sdr[b].item() == pytest.approx(best, abs=1e-5)
        assert si_sdri[b].item() == pytest.approx(best - mix_db, abs=1e-5)


def test_mixture_share_has_zero_improvement_and_silent_estimate_is_floored():
    _, refs = _signals(batch=2, k=2)
    mix = refs.sum(1)
    share = (mix / 2).unsqueeze(1).expand_as(refs)
    _, si_sdri = sisdr_pit(share, refs, mix)
    assert torch.allclose(si_sdri, torch.zeros(2, dtype=torch.float64), atol=1e-9)
    silent = torch.zeros_like(refs)
    assert torch.allclose(pairwise_si_sdr(silent, refs), torch.full((2, 2, 2), -120.0, dtype=torch.float64))


def test_plain_protocol_scores_every_slot():
    est, refs = _signals(batch=2, k=2)
    est[0, 1] = 0  # a collapsed output still counts under plain PIT
    raw = audio_slot_scores(est, refs, refs.sum(1))
    out = summarise(raw, "pit")
    assert set(out) == {"si_sdr", "si_sdri"}
    assert out["si_sdr"][0] < -50  # (x + -120) / 2
    assert not math.isnan(out["si_sdr"][1])
