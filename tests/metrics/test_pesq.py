"""PESQ-WB wrapper: the ceiling for a perfect estimate, resampling, degradation and skipped pairs."""

import math
from collections import Counter

import numpy as np
import pytest

from surf_bench.metrics.pesq_wb import pesq_wb

pytest.importorskip("pesq")


def _voiced(rate, seconds, f0, rate_hz):
    """A syllable-like harmonic signal (< 4 kHz) synthesised analytically at ``rate``."""
    t = np.arange(int(rate * seconds)) / rate
    phase = 2 * np.pi * (f0 * t - 30 / np.pi * np.cos(np.pi * t))
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = (np.sin(2 * np.pi * rate_hz * t) > -0.2) * (0.5 + 0.5 * np.sin(2 * np.pi * 3.7 * t) ** 2)
    return 0.1 * voiced * envelope


def _speechlike(rate, seconds=3.0, interference=0.0):
    """Speech-like target plus a band-limited interfering voice ``interference`` times as loud."""
    return _voiced(rate, seconds, 120, 2.0) + interference * _voiced(rate, seconds, 190, 1.3)


def test_perfect_estimate_reaches_the_wideband_ceiling():
    x = _speechlike(16000)
    assert pesq_wb(x, x, 16000) == pytest.approx(4.64, abs=0.01)


def test_interference_lowers_the_score():
    x = _speechlike(16000)
    light = pesq_wb(x, _speechlike(16000, interference=0.05), 16000)
    heavy = pesq_wb(x, _speechlike(16000, interference=0.5), 16000)
    assert 1.0 <= heavy < light < 4.64


def test_other_rates_are_resampled_to_16k():
    want = pesq_wb(_speechlike(16000), _speechlike(16000, interference=0.05), 16000)
    assert 1.5 < want < 4.0
    for rate in (8000, 32000):
        got = pesq_wb(_speechlike(rate), _speechlike(rate, interference=0.05), rate)
        assert got == pytest.approx(want, abs=0.1)


def test_silent_reference_and_unknown_rate_are_skipped_with_a_reason():
    notes = Counter()
    x = _speechlike(16000)
    assert math.isnan(pesq_wb(np.zeros_like(x), x, 16000, notes))
    assert math.isnan(pesq_wb(x, x, None, notes))
    assert notes == {"pesq: skipped, silent reference": 1,
                     "pesq: skipped, the data set has no sample rate": 1}
