"""Mixtures drawn from a pool of single-source clips (the offline audio sets).

A pool is P clips of T samples each (shorter events are zero-padded), stored as one 16-bit FLAC
(the clips end to end) plus a CSV index (clip id, kind, group, active length). A :class:`Recipe`
says, per item and slot, which clip (-1: inactive slot), at which onset and with which gain;
source k = gain * clip delayed by onset (cut at T); mixture = sum of the sources. Evaluation
recipes are fixed and stored as CSV; training recipes are fixed too, or redrawn per (seed, epoch)
with dynamic mixing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ..errors import DataError
from .audio_io import read_audio
from .base import DataSpec, SourceSplit
from .manifest import read_csv, write_csv

POOL_COLUMNS = ["clip", "kind", "group", "length"]


@dataclass(frozen=True)
class Recipe:
    clip: np.ndarray  # [N, K] int, -1 = inactive
    onset: np.ndarray  # [N, K] int samples
    gain: np.ndarray  # [N, K] float

    def __len__(self) -> int:
        return len(self.clip)


@dataclass
class Pool:
    audio: torch.Tensor  # [P, T] float32
    rows: list[dict]  # POOL_COLUMNS per clip


def write_pool(
    folder: Path, split: str, clips: list[np.ndarray], rows: list[dict], rate: int, length: int
) -> str:
    """Clips (each at most ``length`` samples) -> ``<split>_pool.flac`` + ``<split>_pool.csv``.

    Returns the sha256 of the stored 16-bit samples (recorded by the builders in content.json)."""
    audio = np.zeros((len(clips), length), dtype=np.float32)
    for i, clip in enumerate(clips):
        audio[i, : min(len(clip), length)] = clip[:length]
    sf.write(
        str(folder / f"{split}_pool.flac"),
        np.clip(audio.reshape(-1), -1.0, 32767 / 32768),
        rate,
        subtype="PCM_16",
    )
    write_csv(folder / f"{split}_pool.csv", rows, POOL_COLUMNS)
    samples, _ = sf.read(str(folder / f"{split}_pool.flac"), dtype="int16")
    return hashlib.sha256(samples.tobytes()).hexdigest()


def read_pool(folder: Path, split: str, rate: int, length: int) -> Pool:
    rows = read_csv(folder / f"{split}_pool.csv", POOL_COLUMNS, f"{folder.name}/{split} pool")
    flat = read_audio(folder / f"{split}_pool.flac", rate, 0, len(rows) * length)
    return Pool(torch.from_numpy(flat.reshape(len(rows), length)), rows)


def write_recipe(path: Path, recipe: Recipe) -> None:
    n, k = recipe.clip.shape
    rows = [
        {
            "item": i,
            **{f"clip{s}": int(recipe.clip[i, s]) for s in range(k)},
            **{f"onset{s}": int(recipe.onset[i, s]) for s in range(k)},
            **{f"gain{s}": f"{float(recipe.gain[i, s]):.6g}" for s in range(k)},
        }
        for i in range(n)
    ]
    write_csv(path, rows)


def read_recipe(path: Path, n_slots: int, n_clips: int) -> Recipe:
    columns = [f"{name}{s}" for name in ("clip", "onset", "gain") for s in range(n_slots)]
    rows = read_csv(path, ["item", *columns], f"recipe {path.name}")
    try:
        table = np.array([[float(row[c]) for c in columns] for row in rows])
    except ValueError:
        raise DataError(f"{path}: non-numeric recipe cell; delete the cache folder to rebuild it") from None
    clip = table[:, :n_slots].astype(np.int64)
    if clip.max() >= n_clips or clip.min() < -1:
        raise DataError(f"{path}: clip index out of range 0..{n_clips - 1}")
    return Recipe(
        clip, table[:, n_slots : 2 * n_slots].astype(np.int64), table[:, 2 * n_slots :].astype(np.float32)
    )


class PoolMixSplit(SourceSplit):
    def __init__(
        self,
        name: str,
        pool: Pool,
        n_slots: int,
        sample_rate: int,
        recipe: Recipe | Callable[[int], Recipe],
        tag: str = "",
    ):
        self.pool = pool
        self.tag = tag  # names the build (generator version + parameters); prefixes every item id
        self.clip_ids = [row["clip"] for row in pool.rows]
        self._draw = recipe if callable(recipe) else None
        self.recipe = recipe if not callable(recipe) else recipe(0)
        self.spec = DataSpec(
            name=name,
            modality="audio",
            n_slots=n_slots,
            item_shape=(pool.audio.shape[1],),
            mixing="sum",
            sample_rate=sample_rate,
        )

    @property
    def dynamic_mixing(self) -> bool:
        return self._draw is not None

    def set_epoch(self, epoch: int) -> None:
        if self._draw is not None:
            self.recipe = self._draw(epoch)

    def __len__(self) -> int:
        return len(self.recipe)

    def item_ids(self) -> list[str]:
        r = self.recipe
        return [
            f"{self.tag}|"
            + "+".join(
                "-" if c < 0 else f"{self.clip_ids[c]}@{o}x{g:.5f}"
                for c, o, g in zip(r.clip[i], r.onset[i], r.gain[i], strict=True)
            )
            for i in range(len(r))
        ]

    def sources_batch(self, index: torch.Tensor) -> torch.Tensor:
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        clip, onset, gain = self.recipe.clip[index], self.recipe.onset[index], self.recipe.gain[index]
        length = self.pool.audio.shape[1]
        out = torch.zeros(len(index), clip.shape[1], length)
        for b, k in zip(*np.nonzero(clip >= 0), strict=True):
            shift = int(onset[b, k])
            if shift < length:
                out[b, k, shift:] = self.pool.audio[clip[b, k], : length - shift] * float(gain[b, k])
        return out

    def sources(self, i: int) -> torch.Tensor:
        return self.sources_batch(torch.tensor([i]))[0]

    def mixture(self, i: int) -> torch.Tensor:
        return self.sources(i).sum(0)

    def mixtures(self, index: torch.Tensor) -> torch.Tensor:
        return self.sources_batch(index).sum(1)
