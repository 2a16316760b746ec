"""Offline speech from eSpeak NG (GPL-3.0-or-later), as shipped in the ``espeakng-loader`` wheel
(the library plus its voice data), called through ctypes.

eSpeak keeps internal state (and its own random generator) between utterances, so the same
request gives slightly different audio after other requests. :func:`synthesize` therefore runs
every batch in a fresh subprocess, in the given order: the same batch gives the same samples on
any machine with the same wheel.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
RATE, PITCH, RANGE = 1, 3, 4  # espeak_PARAMETER values


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: str  # e.g. "en-us+f3": a language voice plus a variant
    words_per_minute: int = 170
    pitch: int = 50  # 0-100
    pitch_range: int = 50  # 0-100


def available() -> bool:
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:
        return False
    return True


def synthesize(utterances: list[Utterance], sample_rate: int) -> list[np.ndarray]:
    """Float32 waveforms at ``sample_rate``, one per utterance, made in a fresh process."""
    if not available():
        raise DataError(
            "offline speech needs eSpeak NG from the espeakng-loader package: pip install espeakng-loader"
        )
    with tempfile.TemporaryDirectory(prefix="surf_espeak_") as tmp:
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "result.npz"
        request.write_text(json.dumps({"rate": sample_rate, "utterances": [asdict(u) for u in utterances]}))
        proc = subprocess.run(
            [sys.executable, "-m", "surf_bench.data.espeak", str(request), str(result)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not result.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataError(f"eSpeak NG synthesis failed: {tail[0]}")
        with np.load(result) as data:
            samples, lengths = data["samples"], data["lengths"]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [samples[a:b].copy() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _worker(request_path: str, result_path: str) -> None:
    import espeakng_loader

    from .audio_io import resample

    request = json.loads(Path(request_path).read_text())
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    native_rate = lib.espeak_Initialize(
        AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
    )
    if native_rate <= 0:
        raise SystemExit("espeak_Initialize failed")
    chunks: list[np.ndarray] = []
    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )

    def collect(wav, count, _events):
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    callback = callback_type(collect)
    lib.espeak_SetSynthCallback(callback)
    outputs = []
    for item in request["utterances"]:
        if lib.espeak_SetVoiceByName(item["voice"].encode()) != 0:
            raise SystemExit(f"unknown eSpeak voice {item['voice']!r}")
        for parameter, value in (
            (RATE, item["words_per_minute"]),
            (PITCH, item["pitch"]),
            (RANGE, item["pitch_range"]),
        ):
            lib.espeak_SetParameter(parameter, int(value), 0)
        chunks.clear()
        text = item["text"].encode()
        lib.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0, 0, None, None)
        lib.espeak_Synchronize()
        wave = np.concatenate(chunks).astype(np.float32) / 32768.0 if chunks else np.zeros(1, np.float32)
        outputs.append(resample(wave, native_rate, request["rate"]).astype(np.float32))
    np.savez(result_path, samples=np.concatenate(outputs), lengths=np.array([len(x) for x in outputs]))


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
