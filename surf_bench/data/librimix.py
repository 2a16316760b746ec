"""LibriMix (https://github.com/JorisCos/LibriMix): the on-disk layout and a generator of its
clean 2-speaker part from LibriSpeech + the published metadata.

Layout: ``Libri2Mix/wav{8k,16k}/{min,max}/{train-360,train-100,dev,test}/{mix_clean,s1,s2}/<ID>.wav``
with ``metadata/mixture_<subset>_mix_clean.csv`` (columns mixture_ID, mixture_path,
source_1_path, source_2_path, length). The generator follows LibriMix's recipe for ``mix_clean``:
each LibriSpeech utterance times its metadata gain, resampled from 16 kHz with a polyphase
filter, cut to the shorter (min) or zero-padded to the longer (max) utterance, written as 16-bit
PCM WAV; mix_clean = s1 + s2. Each file is written atomically and the subset's metadata CSV last,
so an interrupted generation resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .audio_io import read_audio, write_audio
from .manifest import read_csv, write_csv

SOURCE_RATE = 16000
METADATA_COLUMNS = ["mixture_ID", "source_1_path", "source_1_gain", "source_2_path", "source_2_gain"]
MIXTURE_COLUMNS = ["mixture_ID", "mixture_path", "source_1_path", "source_2_path", "length"]


def subset_dir_name(metadata_csv: Path) -> str:
    """``libri2mix_train-clean-360.csv`` -> ``train-360`` (LibriMix's folder naming)."""
    return metadata_csv.stem.replace("libri2mix_", "").replace("-clean", "")


def generate_mix_clean(
    librispeech: Path, metadata_csv: Path, mode_dir: Path, rate: int, mode: str, log=print
) -> Path:
    """Write one subset of Libri2Mix ``mix_clean`` under ``mode_dir``; returns its mixture CSV."""
    if mode not in ("min", "max"):
        raise DataError(f"LibriMix mode must be min or max, not {mode!r}")
    subset = subset_dir_name(metadata_csv)
    out_csv = mode_dir / "metadata" / f"mixture_{subset}_mix_clean.csv"
    if out_csv.is_file():
        return out_csv
    rows = read_csv(metadata_csv, METADATA_COLUMNS, "LibriMix metadata")
    records = []
    for n, row in enumerate(rows):
        mix_id = row["mixture_ID"]
        paths = {k: mode_dir / subset / k / f"{mix_id}.wav" for k in ("s1", "s2", "mix_clean")}
        length = _make_one(librispeech, row, paths, rate, mode)
        records.append(
            {
                "mixture_ID": mix_id,
                "mixture_path": paths["mix_clean"].resolve(),
                "source_1_path": paths["s1"].resolve(),
                "source_2_path": paths["s2"].resolve(),
                "length": length,
            }
        )
        if (n + 1) % 1000 == 0:
            log(f"libri2mix: {subset} {n + 1}/{len(rows)} mixtures")
    write_csv(out_csv, records, MIXTURE_COLUMNS)
    return out_csv


def _make_one(librispeech: Path, row: dict, paths: dict, rate: int, mode: str) -> int:
    if all(p.is_file() for p in paths.values()):
        from .audio_io import audio_info

        return audio_info(paths["mix_clean"]).frames
    sources = []
    for k in (1, 2):
        x = read_audio(librispeech / row[f"source_{k}_path"], SOURCE_RATE) * np.float32(
            float(row[f"source_{k}_gain"])
        )
        if rate != SOURCE_RATE:
            from scipy.signal import resample_poly

            x = resample_poly(x, rate, SOURCE_RATE).astype(np.float32)
        sources.append(x)
    length = min(map(len, sources)) if mode == "min" else max(map(len, sources))
    sources = [x[:length] if len(x) >= length else np.pad(x, (0, length - len(x))) for x in sources]
    write_audio(paths["s1"], sources[0], rate, "PCM_16")
    write_audio(paths["s2"], sources[1], rate, "PCM_16")
    write_audio(paths["mix_clean"], sources[0] + sources[1], rate, "PCM_16")
    return length
