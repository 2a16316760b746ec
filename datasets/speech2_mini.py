"""speech2-mini: offline 2-speaker speech mixtures, built on first use from eSpeak NG voices.

Content (defaults): 16 kHz, 2 s items, K = 2, mixture = s1 + s2. 88 synthetic speakers (an English
accent voice x an eSpeak variant, with their own pitch, pitch range and rate), speaker-disjoint
splits: train 64 speakers x 32 clips = 2048 clips, valid 8 x 10 = 80, test 16 x 10 = 160. Each clip
is one sentence from a seeded grammar (e.g. "The farmer packed two brown bags by the river."),
silence-trimmed, cut (or zero-padded at a random onset) to 2 s and set to -26 dBFS RMS. A mixture
pairs two clips of different speakers, each at a level drawn in [-33, -25] dBFS (as LibriMix's
loudness range). valid/test hold one mixture per clip (80 / 160 mixtures), fixed and stored as
CSV; train holds 2048 fixed mixtures (each clip first in one of them), drawn once from the dataset's
seed (``data.dynamic_mixing``, supervised methods only: new pairs and levels per (seed, epoch)).

Build: deterministic (one eSpeak subprocess in a fixed order, seeded numpy), about 40 s on 2 cores,
cached atomically under ``<root>`` (default ``$SURF_BENCH_DATA/speech2-mini`` or
``~/.cache/surf_bench/speech2-mini``) as ``<split>_pool.flac`` (16-bit; about 80 MB
in all) + ``<split>_pool.csv`` + ``<split>_items.csv``, with ``content.json`` (sha256 of the stored
samples) and ``build_info.json``. Item ids start with the generator version and parameters, so the
manifest hash changes whenever the build does. Needs the ``espeakng-loader`` wheel (eSpeak NG library
and voice data, GPL-3.0-or-later); the audio is generated locally and is our own output; the word
lists are ours.
"""

import json
from pathlib import Path

import numpy as np

from surf_bench.data import espeak
from surf_bench.data.manifest import atomic_write_text
from surf_bench.data.offline_pool import OfflinePoolAdapter
from surf_bench.data.offline_speech import normalise, sentence, speakers, trim_silence, utterance
from surf_bench.data.pool_mix import Recipe, write_pool, write_recipe

VERSION = "2"  # bump whenever the generator or its word/voice lists change
BUILD_SEED = 20260107
REFERENCE_DB = 20 * np.log10(0.05)  # clips are stored at this RMS
LEVELS_DB = (-33.0, -25.0)


def pair_recipe(rng: np.random.Generator, groups: np.ndarray, n_items: int, first: np.ndarray) -> Recipe:
    """Slot 0 = ``first[i]``; slot 1 = a clip of another speaker; levels uniform in LEVELS_DB."""
    clip = np.zeros((n_items, 2), dtype=np.int64)
    clip[:, 0] = first
    for i in range(n_items):
        others = np.nonzero(groups != groups[first[i]])[0]
        clip[i, 1] = others[rng.integers(len(others))]
    levels = rng.uniform(*LEVELS_DB, size=(n_items, 2))
    gain = (10 ** ((levels - REFERENCE_DB) / 20)).astype(np.float32)
    return Recipe(clip, np.zeros_like(clip), gain)


class Speech2Mini(OfflinePoolAdapter):
    name = "speech2-mini"
    n_slots = 2
    version = VERSION
    train_mix_seed = BUILD_SEED + 1
    description = "offline 2-speaker eSpeak NG speech mixtures, 2 s at 16 kHz (builds in seconds)"
    default_layout = {"train": (64, 32), "valid": (8, 10), "test": (16, 10)}  # split: (speakers, clips each)

    def build(self, folder: Path) -> None:
        rng = np.random.default_rng(BUILD_SEED)
        voices = speakers(rng, sum(n for n, _ in self.layout.values()))
        plan, start = [], 0
        for split, (n_speakers, per_speaker) in self.layout.items():
            for speaker in voices[start : start + n_speakers]:
                plan += [(split, speaker, j, sentence(rng)) for j in range(per_speaker)]
            start += n_speakers
        waves = espeak.synthesize([utterance(s, text) for _, s, _, text in plan], self.rate)
        clips = {split: ([], []) for split in self.layout}
        for (split, speaker, j, _text), wave in zip(plan, waves, strict=True):
            x = trim_silence(wave)
            if len(x) >= self.length:
                at = int(rng.integers(0, len(x) - self.length + 1))
                x, onset = x[at : at + self.length], 0
            else:
                onset = int(rng.integers(0, self.length - len(x) + 1))
            placed = np.zeros(self.length, dtype=np.float32)
            placed[onset : onset + len(x)] = normalise(x)
            clips[split][0].append(placed)
            clips[split][1].append(
                {
                    "clip": f"{split}-{speaker['id']}-{j:02d}",
                    "kind": "speech",
                    "group": f"{speaker['id']}:{speaker['voice']}",
                    "length": self.length,
                }
            )
        digests = {}
        for split, (audio, rows) in clips.items():
            digests[split] = write_pool(folder, split, audio, rows, self.rate, self.length)
            if split != "train":
                groups = np.array([row["group"] for row in rows])
                write_recipe(
                    folder / f"{split}_items.csv", pair_recipe(rng, groups, len(rows), np.arange(len(rows)))
                )
        atomic_write_text(folder / "content.json", json.dumps(digests, indent=1))
        atomic_write_text(folder / "README.txt", __doc__)

    def example(self, root: Path) -> tuple["Speech2Mini", Path]:
        """A small build (0.5 s items, a few clips per split) under ``root``; it is built on open."""
        small = {"train": (3, 2), "valid": (2, 2), "test": (2, 3)}
        return type(self)(seconds=0.5, rate=self.rate, layout=small), Path(root)

    def train_recipe(self, pool, seed: int):
        groups = np.array([row["group"] for row in pool.rows])

        def draw(epoch: int) -> Recipe:
            rng = np.random.default_rng([seed & 0xFFFFFFFF, epoch, 2])
            return pair_recipe(rng, groups, len(groups), rng.permutation(len(groups)))

        return draw


DATASET = Speech2Mini()
