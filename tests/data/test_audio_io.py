"""Audio reading, resampling and crop windows."""

import numpy as np
import pytest

from surf_bench.data.audio_io import read_audio, resample
from surf_bench.data.audio_splits import crop_window
from surf_bench.errors import DataError


def test_read_segment_resample_and_errors(tmp_path, h):
    x = h.tone(0.5, 16000)
    path = h.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    assert np.array_equal(read_audio(path, 16000, 100, 50), x[100:150])
    with pytest.raises(DataError, match="a.wav: sample rate 16000 Hz, expected 8000"):
        read_audio(path, 8000)
    half = read_audio(path, 8000, 0, 2000, allow_resample=True)
    assert half.shape == (2000,) and np.allclose(
        half[200:1800], resample(x, 16000, 8000)[200:1800], atol=1e-4
    )
    with pytest.raises(DataError, match="truncated"):
        read_audio(path, 16000, 7900, 200)
    stereo = h.write(tmp_path / "s.wav", np.stack([x, -x], 1), 16000, subtype="FLOAT")
    assert np.allclose(read_audio(stereo, 16000, downmix=True), 0)
    with pytest.raises(DataError, match="2 channels, but the harness separates mono audio"):
        read_audio(stereo, 16000)
    with pytest.raises(DataError, match="missing audio file"):
        read_audio(tmp_path / "none.wav", 16000)


def test_crop_windows():
    assert crop_window(100, 40, "centre") == 30 and crop_window(30, 40, "random") == 0
    starts = {crop_window(1000, 100, "random", 1, epoch, 5) for epoch in range(20)}
    assert len(starts) > 5 and all(0 <= s <= 900 for s in starts)
    assert crop_window(1000, 100, "random", 1, 3, 5) == crop_window(1000, 100, "random", 1, 3, 5)
    assert crop_window(1000, None, "random") == 0
