"""The numpy BSS Eval v3 against mir_eval.separation.bss_eval_sources (within 0.01 dB)."""

import warnings

import numpy as np
import pytest
from mir_eval.separation import bss_eval_sources as mir_bss_eval_sources

from surf_bench.metrics.bss import bss_eval_sources, sdr_aligned


def _case(n, length, seed):
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n, length))
    refs = np.cumsum(white, 1) * 0.05 + white  # coloured, like audio
    mixing = 0.7 * np.eye(n) + 0.3 * rng.random((n, n))
    ests = mixing @ refs + 0.2 * rng.standard_normal((n, length))
    # a short echo: the 512-tap distortion filter must absorb it
    ests[0, 40:] += 0.3 * ests[0, :-40]
    return refs, ests[rng.permutation(n)]


def _mir(refs, ests, compute_permutation):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return mir_bss_eval_sources(refs, ests, compute_permutation=compute_permutation)


@pytest.mark.parametrize("n,length,seed", [(2, 6000, 0), (3, 4000, 1)])
def test_matches_mir_eval_with_permutation(n, length, seed):
    refs, ests = _case(n, length, seed)
    want = _mir(refs, ests, True)
    got = bss_eval_sources(refs, ests)
    for w, g in zip(want[:3], got[:3], strict=True):
        np.testing.assert_allclose(g, w, atol=0.01)
    np.testing.assert_array_equal(got[3], want[3])


def test_aligned_sdr_matches_mir_eval_without_permutation():
    refs, ests = _case(2, 6000, 2)
    want = _mir(refs, ests, False)[0]
    np.testing.assert_allclose(sdr_aligned(refs, ests), want, atol=0.01)


def test_silent_estimate_is_nan():
    refs, ests = _case(2, 3000, 3)
    ests[1] = 0
    got = sdr_aligned(refs, ests)
    assert np.isfinite(got[0]) and np.isnan(got[1])


def test_perfect_estimate_is_clipped_to_the_si_sdr_range():
    refs, _ = _case(2, 3000, 4)
    np.testing.assert_allclose(sdr_aligned(refs, refs.copy()), [120.0, 120.0])
