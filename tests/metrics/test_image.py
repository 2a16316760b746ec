"""PSNR against a closed form, and its permutation against brute force."""

import itertools
import math

import pytest
import torch

from surf_bench.metrics.image import psnr, psnr_pit


def test_psnr_closed_form_constant_offset():
    ref = torch.full((1, 1, 8, 8), 0.5)
    assert psnr(ref + 0.1, ref).item() == pytest.approx(20.0, abs=1e-4)  # -20 log10(0.1)
    assert psnr(ref - 0.01, ref).item() == pytest.approx(40.0, abs=1e-3)


def test_psnr_clamps_to_peak():
    ref = torch.ones(1, 1, 4, 4)
    assert psnr(ref + 5.0, ref).item() == pytest.approx(100.0)  # clamped to the reference: MSE floor 1e-10


def test_psnr_pit_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    refs = torch.rand(5, 3, 1, 6, 6, generator=g)
    est = (refs[:, [2, 0, 1]] + 0.2 * torch.randn(5, 3, 1, 6, 6, generator=g))
    got = psnr_pit(est, refs)
    for b in range(5):
        best = max(sum(psnr(est[b, i], refs[b, p[i]]).item() for i in range(3)) / 3
                   for p in itertools.permutations(range(3)))
        assert got[b].item() == pytest.approx(best, abs=1e-4)
    assert math.isfinite(got.mean().item())


def test_permutation_maximises_mean_psnr_not_summed_mse():
    refs = torch.stack([torch.full((1, 4, 4), 0.2), torch.full((1, 4, 4), 0.6)]).unsqueeze(0)
    est = torch.stack([torch.full((1, 4, 4), 0.21), torch.full((1, 4, 4), 0.6 - 0.3 ** 0.5)]).unsqueeze(0)
    # identity: MSE 1e-4 and 0.3 (PSNR 40 and 5.2); swapped: 0.152 and 0.022 (PSNR 8.2 and 16.6)
    want = (40.0 - 10 * math.log10(0.3)) / 2
    assert psnr_pit(est, refs).item() == pytest.approx(want, abs=1e-3)
