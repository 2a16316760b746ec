"""Audio files in and out: soundfile (libsndfile) for WAV/FLAC, soxr for resampling.

Every failure (missing, corrupt or truncated file, unexpected sample rate) becomes one
:class:`DataError` that names the file; torchaudio is never used (docs/architecture.md, "Environment").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import DataError


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    frames: int
    channels: int


def audio_info(path: str | Path) -> AudioInfo:
    """Header of an audio file (sample rate, frames, channels)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing audio file {path}")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError) as exc:
        raise DataError(
            f"{path}: not a readable audio file ({_reader_reason(exc)}); it is corrupt, re-download it"
        ) from None
    return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))


def check_rate(path: str | Path, rate: int, expected: int) -> None:
    if rate != expected:
        raise DataError(
            f"{path}: sample rate {rate} Hz, expected {expected} Hz "
            "(wrong folder, e.g. wav8k instead of wav16k, or a file that needs resampling)"
        )


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of a mono float signal with soxr (high quality)."""
    if rate_in == rate_out:
        return x
    import soxr

    return soxr.resample(np.ascontiguousarray(x, dtype=np.float32), rate_in, rate_out, quality="HQ")


def read_audio(
    path: str | Path,
    rate: int,
    start: int = 0,
    frames: int = -1,
    allow_resample: bool = False,
    exact: bool = True,
    downmix: bool = False,
) -> np.ndarray:
    """Mono float32 samples ``[start, start + frames)`` of ``path``, counted at ``rate``.

    A file at another rate is an error unless ``allow_resample`` (then the matching span is read
    and resampled with soxr). With ``exact``, fewer samples than asked for means a truncated file.
    A multichannel file is an error (the harness separates mono signals and will not average a
    stereo recording behind the user's back) unless ``downmix``, when its channels are averaged.
    """
    path = Path(path)
    info = audio_info(path)
    if not allow_resample:
        check_rate(path, info.sample_rate, rate)
    ratio = info.sample_rate / rate
    file_start = int(round(start * ratio))
    file_frames = -1 if frames < 0 else int(round(frames * ratio))
    try:
        data, _ = sf.read(str(path), start=file_start, frames=file_frames, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise DataError(
            f"{path}: cannot decode audio ({_reader_reason(exc)}); the file is corrupt or truncated: replace it "
            "(for a public dataset, `surf-bench fetch` it again)"
        ) from None
    if data.shape[1] > 1 and not downmix:
        raise DataError(f"{path}: {data.shape[1]} channels, but the harness separates mono audio; convert the "
                        "file to mono first (e.g. `sox in.wav -c 1 out.wav`)")
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if exact and file_frames >= 0 and len(x) < file_frames:
        raise DataError(
            f"{path}: truncated: {len(x)} samples from offset {file_start}, expected {file_frames} "
            f"(file holds {info.frames}); replace the file (for a public dataset, `surf-bench fetch` it again)"
        )
    if info.sample_rate != rate:
        x = resample(x, info.sample_rate, rate)
        if frames >= 0:
            x = x[:frames] if len(x) >= frames else np.pad(x, (0, frames - len(x)))
    if not np.isfinite(x).all():
        raise DataError(f"{path}: audio holds NaN or infinite samples")
    return np.ascontiguousarray(x, dtype=np.float32)


def write_audio(path: str | Path, x: np.ndarray, rate: int, subtype: str | None = None) -> None:
    """Write mono audio atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fmt = path.suffix.lstrip(".").upper()
    try:
        sf.write(str(tmp), np.asarray(x, dtype=np.float32), rate, subtype=subtype, format=fmt)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _reader_reason(exc: Exception) -> str:
    """The reason from a reader's error, without soundfile's "Error opening '<path>': " prefix."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    text = text.splitlines()[-1]
    if text.startswith("Error opening") and "': " in text:
        text = text.split("': ", 1)[1]
    return text[:160]
