"""Small writers for the tiny example datasets (``DatasetAdapter.example``): noisy test tones
written as real audio files, so that an adapter can ship a copy of its on-disk format.
See docs/architecture.md, "Data"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A sine of ``freq`` Hz plus a little seeded noise (float32 mono)."""
    t = np.arange(int(round(seconds * rate))) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t)) * 0.01
    return (amp * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write_audio_file(path: Path, x: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    """Write mono audio (format from the suffix), creating the folders; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, rate, subtype=subtype)
    return path
