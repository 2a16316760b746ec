"""Wide-band PESQ (ITU-T P.862.2) at 16 kHz through the ``pesq`` package (extra ``audio-metrics``).

Signals at another rate are resampled to 16 kHz with soxr (high quality). A pair is skipped (NaN)
with a reason when the reference is silent (RMS <= 1e-8), when ``pesq`` is not installed, or when
``pesq`` rejects the pair (for example no utterance found); reasons are counted in ``notes``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

PESQ_RATE = 16000
SILENT_RMS = 1e-8


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == PESQ_RATE:
        return x
    import soxr

    return soxr.resample(x, rate, PESQ_RATE, quality="HQ")


def pesq_wb(ref: np.ndarray, est: np.ndarray, rate: int | None, notes: Counter | None = None) -> float:
    """PESQ-WB MOS-LQO of ``est`` against ``ref`` (1-D, same rate); NaN with a counted reason if skipped."""
    notes = notes if notes is not None else Counter()
    ref = np.asarray(ref, dtype=np.float64)
    est = np.asarray(est, dtype=np.float64)
    if rate is None:
        notes["pesq: skipped, the data set has no sample rate"] += 1
        return float("nan")
    if np.sqrt(np.mean(ref ** 2)) <= SILENT_RMS:
        notes["pesq: skipped, silent reference"] += 1
        return float("nan")
    try:
        from pesq import pesq
    except ImportError:
        notes["pesq: skipped, the pesq package is not installed (extra audio-metrics)"] += 1
        return float("nan")
    try:
        return float(pesq(PESQ_RATE, _resample(ref, rate), _resample(est, rate), "wb"))
    except Exception as exc:  # pesq raises its own error types (NoUtterancesError, BufferTooShortError)
        notes[f"pesq: skipped, {type(exc).__name__}"] += 1
        return float("nan")
