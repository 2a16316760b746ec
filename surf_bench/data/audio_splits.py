"""Audio splits read from files: K source slots per item, mixture = sum of the sources (mixing="sum").

An :class:`AudioItem` lists, per slot, the file, the offset of the item inside it, a gain and how
many valid samples it holds (slots past the active sources are ``None``: all-zero). The split
crops every item to a fixed length so batches stack:

- train (``random_crop``): a window drawn from ``(seed, epoch, item)``, the same on any machine;
- evaluation: the centred window (documented per adapter); ``crop=None`` keeps full length (then
  items of unequal length can only be batched one at a time).

Items shorter than the crop are zero-padded at the end. Item ids name the files (relative to the
dataset root), offsets and gains, so :meth:`manifest_hash` changes when any of them does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .audio_io import audio_info, check_rate, read_audio
from .base import DataSpec, SourceSplit


@dataclass(frozen=True)
class SourceRef:
    path: str  # relative to the split's root
    offset: int = 0  # samples (at the split's rate) from the file start to the item start
    gain: float = 1.0
    frames: int | None = None  # valid samples from offset (None: the item's length); zeros after
    resample: bool = False  # a file at another rate is resampled (soxr) instead of rejected


@dataclass(frozen=True)
class AudioItem:
    item_id: str
    slots: tuple  # K entries: SourceRef or None (inactive)
    length: int  # samples of the item
    snr_db: float | None = None  # for a rescale rule (e.g. speech-to-noise ratio); part of the id


def crop_window(length: int, crop: int | None, mode: str, seed: int = 0, epoch: int = 0, i: int = 0) -> int:
    """Start of the crop: random per (seed, epoch, item) for ``mode='random'``, else centred."""
    if crop is None or length <= crop:
        return 0
    if mode == "random":
        rng = np.random.default_rng([seed & 0xFFFFFFFF, epoch, i, 0x5EED])
        return int(rng.integers(0, length - crop + 1))
    if mode == "start":
        return 0
    return (length - crop) // 2


class AudioSplit(SourceSplit):
    """File-backed audio split. ``rescale(item, sources) -> sources`` may set gains from the audio."""

    def __init__(
        self,
        name: str,
        root: Path,
        items: list[AudioItem],
        n_slots: int,
        sample_rate: int,
        crop: int | None,
        crop_mode: str = "centre",
        seed: int = 0,
        rescale: Callable | None = None,
    ):
        if crop_mode not in ("random", "centre", "start"):
            raise ValueError(f"crop_mode must be random, centre or start, not {crop_mode!r}")
        for item in items[:1]:
            if len(item.slots) != n_slots:
                raise DataError(
                    f"{name}: item {item.item_id} has {len(item.slots)} slots, expected {n_slots}"
                )
        self.root = Path(root)
        self.items = items
        self.sample_rate = sample_rate
        self.crop = crop
        self.crop_mode = crop_mode
        self.seed = seed
        self.epoch = 0
        self.rescale = rescale
        lengths = {item.length for item in items}
        if crop is not None:
            length = crop
        elif len(lengths) == 1:
            length = lengths.pop()
        else:
            length = None  # variable length: evaluate with batch size 1
        self.spec = DataSpec(
            name=name,
            modality="audio",
            n_slots=n_slots,
            item_shape=(length,),
            mixing="sum",
            sample_rate=sample_rate,
        )
        self._cache_key = None
        self._cache = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def _window(self, i: int) -> tuple[int, int]:
        item = self.items[i]
        mode = self.crop_mode
        start = crop_window(item.length, self.crop, mode, self.seed, self.epoch if mode == "random" else 0, i)
        return start, (item.length if self.crop is None else self.crop)

    def item_ids(self) -> list[str]:
        out = []
        for i, item in enumerate(self.items):
            start, n = self._window(i)
            slots = ";".join(
                "-" if ref is None else f"{ref.path}@{ref.offset + start}x{ref.gain:.6g}"
                for ref in item.slots
            )
            snr = "" if item.snr_db is None else f"|snr={item.snr_db:.4f}"
            out.append(f"{item.item_id}|n={n}|{slots}{snr}")
        return out

    def _read_slot(self, ref: SourceRef, start: int, n: int, length: int) -> np.ndarray:
        valid = (length if ref.frames is None else ref.frames) - start
        out = np.zeros(n, dtype=np.float32)
        take = max(0, min(n, valid, length - start))
        if take:
            out[:take] = read_audio(
                self.root / ref.path, self.sample_rate, ref.offset + start, take, allow_resample=ref.resample
            )
        return out * np.float32(ref.gain)

    def sources(self, i: int) -> torch.Tensor:
        item = self.items[i]
        start, n = self._window(i)
        rows = [
            np.zeros(n, dtype=np.float32) if ref is None else self._read_slot(ref, start, n, item.length)
            for ref in item.slots
        ]
        stacked = np.stack(rows)
        if self.rescale is not None:
            stacked = self.rescale(item, stacked)
        return torch.from_numpy(np.ascontiguousarray(stacked, dtype=np.float32))

    def mixture(self, i: int) -> torch.Tensor:
        return self.sources(i).sum(0)

    def sources_batch(self, index: torch.Tensor) -> torch.Tensor:
        key = (self.epoch, tuple(int(i) for i in index))
        if key != self._cache_key:  # the evaluator asks for mixtures, then sources, of one batch
            items = [self.sources(i) for i in key[1]]
            longest = max(len(x[0]) for x in items)
            items = [torch.nn.functional.pad(x, (0, longest - x.shape[-1])) for x in items]
            self._cache_key, self._cache = key, torch.stack(items)
        return self._cache.clone()

    def mixtures(self, index: torch.Tensor) -> torch.Tensor:
        return self.sources_batch(index).sum(1)

    def validate(self, headers: bool) -> AudioSplit:
        """Check every listed file exists; with ``headers`` also its rate and length (one DataError)."""
        frames_of: dict[str, int | None] = {}
        for item in self.items:
            for ref in item.slots:
                if ref is None:
                    continue
                if ref.path not in frames_of:
                    frames_of[ref.path] = self._check_file(self.root / ref.path, ref, headers)
                frames = frames_of[ref.path]
                need = ref.offset + (item.length if ref.frames is None else ref.frames)
                if frames is not None and frames < need:
                    raise DataError(
                        f"{self.root / ref.path}: {frames} samples, the item {item.item_id} needs {need} "
                        "(truncated file?); re-download it"
                    )
        return self

    def _check_file(self, path: Path, ref: SourceRef, headers: bool) -> int | None:
        """Frames of ``path`` at the split's rate (None when only its existence was checked)."""
        if not headers:
            if not path.is_file():
                raise DataError(f"{self.spec.name}: missing file {path}")
            return None
        info = audio_info(path)
        if not ref.resample:
            check_rate(path, info.sample_rate, self.sample_rate)
        return math.floor(info.frames * self.sample_rate / info.sample_rate)
