"""Environmental-sound pools for speech + sound mixtures (LibriFSD50K-style).

- FUSS source clips (``FUSS_fsd_data.tar.gz``): ``fsd_data/{train,validation,eval}/<folder>/*.wav``,
  16 kHz, CC0 clips from freesound.org (FUSS publishes no labels, so voices cannot be filtered).
- FSD50K (https://zenodo.org/record/4060432): ``FSD50K.dev_audio/*.wav`` and
  ``FSD50K.eval_audio/*.wav`` (44.1 kHz, resampled with soxr) with ``FSD50K.ground_truth/
  {dev,eval}.csv`` (columns fname, labels[, split]); clips carrying a human-voice label are left
  out, as LibriFSD50K does.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

FUSS_SPLITS = {"train": "train", "valid": "validation", "test": "eval"}
FSD50K_SPLITS = {"train": ("dev", "train"), "valid": ("dev", "val"), "test": ("eval", None)}
VOICE_LABELS = {
    "Human_voice",
    "Speech",
    "Male_speech_and_man_speaking",
    "Female_speech_and_woman_speaking",
    "Child_speech_and_kid_speaking",
    "Conversation",
    "Speech_synthesizer",
    "Singing",
    "Male_singing",
    "Female_singing",
    "Child_singing",
    "Chatter",
    "Crowd",
    "Yell",
    "Screaming",
    "Shout",
    "Whispering",
    "Laughter",
    "Giggle",
    "Chuckle_and_chortle",
    "Crying_and_sobbing",
    "Sigh",
    "Cheering",
    "Chant",
}


@dataclass(frozen=True)
class NoisePool:
    kind: str  # fuss | fsd50k
    files: list  # paths relative to the dataset root, sorted


def find_pool(root: Path, split: str) -> NoisePool:
    """FSD50K when present (voice-filtered), else FUSS's fsd_data; a DataError naming both when neither."""
    fsd = root / "FSD50K.ground_truth"
    if fsd.is_dir():
        return NoisePool("fsd50k", _fsd50k(root, split))
    for base in (root / "fsd_data", root / "fuss_dev" / "fsd_data"):
        if base.is_dir():
            folder = base / FUSS_SPLITS[split]
            files = sorted(str(p.relative_to(root)) for p in folder.glob("*/*.wav"))
            if not files:
                raise DataError(f"librifuss2: no sound clips {folder}/*/*.wav (empty split)")
            return NoisePool("fuss", files)
    raise DataError(
        f"librifuss2: no environmental sounds under {root}: put FUSS's fsd_data/ "
        "(FUSS_fsd_data.tar.gz) or FSD50K (FSD50K.dev_audio/, FSD50K.eval_audio/, "
        "FSD50K.ground_truth/) there, or run `surf-bench fetch librifuss2`"
    )


def _fsd50k(root: Path, split: str) -> list:
    part, subset = FSD50K_SPLITS[split]
    table = root / "FSD50K.ground_truth" / f"{part}.csv"
    if not table.is_file():
        raise DataError(f"librifuss2: missing {table}")
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and ("fname" not in rows[0] or "labels" not in rows[0]):
        raise DataError(f"{table}: expected columns fname, labels")
    files = []
    for row in rows:
        if subset is not None and row.get("split") != subset:
            continue
        if VOICE_LABELS & set(row["labels"].split(",")):
            continue
        files.append(f"FSD50K.{part}_audio/{row['fname']}.wav")
    if not files:
        raise DataError(f"librifuss2: {table} leaves no voice-free clips for '{split}' (empty split)")
    return sorted(files)
