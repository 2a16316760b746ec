"""A researcher's own data as folders, with no code (docs/plugins.md, "Your own data").

Audio (``audio-folder``; 16 kHz mono, other rates resampled with soxr), one of three layouts per
split, found in this order under the data root (``--data-root``):

1. ``<split>/<item>/s1.wav ... sK.wav``: the sources of every item; the mixture is their sum
   (references for scoring, and what supervised methods train on);
2. ``<split>/*.wav``: mixtures only (no references): a training split for unsupervised methods;
   a split to score needs layout 1 or 3;
3. ``sources/<split>/*.wav``: single-source files mixed once by a fixed recipe: the files are
   shuffled with the dataset's seed and cut into disjoint groups of K, summed as they are (each file
   in one mixture, as the image sets pair their images).

Items are cut to ``data.seconds`` (0: the adapter's default, 4 s): a window at random per epoch in
training (the same on any machine), the centred one in valid and test; shorter items are padded.
Images (``image-folder``): ``<split>/*.png`` (or .jpg), all of one size, grayscale or RGB, pixels
scaled to [0, 1]; training mixtures are disjoint groups of K images, valid and test fixed groups.
File names, gains and windows make the item ids, so the manifest hash changes with the data. These
sets stand for no paper's set: tables print no paper column beside them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .audio_io import audio_info, read_audio
from .audio_splits import AudioItem, AudioSplit, SourceRef, crop_window
from .base import DatasetAdapter, DataSpec, SourceSplit
from .image_pairs import ImageMixtureSplit, pairing_for

SPLITS = ("train", "valid", "test")
AUDIO_EXTENSIONS = (".wav", ".flac")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _files(folder: Path, extensions) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)


def _need_root(name: str, root) -> Path:
    if root is None or not Path(root).is_dir():
        raise DataError(f"{name}: give the folder of your data with --data-root (docs/plugins.md, \"Your own data\"); "
                        f"{root} is not a folder")
    return Path(root)


class MixtureFileSplit(SourceSplit):
    """Mixture files without references: unsupervised training only."""

    def __init__(self, name: str, root: Path, files: list[Path], n_slots: int, rate: int, crop: int, seed: int):
        self.root, self.files, self.rate, self.crop, self.seed, self.epoch = root, files, rate, crop, seed, 0
        infos = [audio_info(f) for f in files]
        self.lengths = [int(info.frames * rate / info.sample_rate) for info in infos]
        self.spec = DataSpec(name, "audio", n_slots, (crop,), "sum", rate)

    def set_epoch(self, epoch: int) -> None:  # a new window of the same fixed mixture (no source needed)
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.files)

    def item_ids(self) -> list[str]:
        return [str(f.relative_to(self.root)) for f in self.files]

    def mixture(self, i: int) -> torch.Tensor:
        start = crop_window(self.lengths[i], self.crop, "random", self.seed, self.epoch, i)
        take = min(self.crop, self.lengths[i] - start)
        x = np.zeros(self.crop, dtype=np.float32)
        x[:take] = read_audio(self.files[i], self.rate, start, take, allow_resample=True)
        return torch.from_numpy(x)

    def sources(self, i: int) -> torch.Tensor:
        raise DataError(f"{self.spec.name}: these items are mixtures only ({self.files[i].name}); a supervised "
                        "method or a score needs references: put each item's sources in <split>/<item>/s1.wav ... "
                        "(layout 1)")


class AudioFolder(DatasetAdapter):
    modality = "audio"
    crop_setting = True  # open() takes ``seconds`` (data.seconds)
    description = "your own audio: a folder of sources per item, of mixtures, or of single sources to mix"

    def __init__(self, name: str = "audio-folder", n_slots: int = 2, sample_rate: int = 16000, seconds: float = 4.0,
                 seed: int = 20261204):
        self.name, self.n_slots, self.sample_rate, self.default_seconds, self.seed = (
            name, n_slots, sample_rate, seconds, seed)

    def open(self, split: str, root: Path | None = None, seed: int = 0, seconds: float | None = None) -> SourceSplit:
        if split not in SPLITS:
            raise DataError(f"{self.name} has splits {', '.join(SPLITS)}, not '{split}'")
        root = _need_root(self.name, root)
        crop_seconds = seconds or self.default_seconds
        crop = int(round(crop_seconds * self.sample_rate))
        mode = "random" if split == "train" else "centre"
        name = f"{self.name}/{split}"
        folder, pool = root / split, root / "sources" / split
        if folder.is_dir() and any(p.is_dir() for p in folder.iterdir()):
            items = [self._item_of_sources(root, item) for item in sorted(p for p in folder.iterdir() if p.is_dir())]
        elif folder.is_dir() and _files(folder, AUDIO_EXTENSIONS):
            return MixtureFileSplit(name, root, _files(folder, AUDIO_EXTENSIONS), self.n_slots, self.sample_rate,
                                    crop, self.seed + SPLITS.index(split))
        elif pool.is_dir():
            items = self._items_mixed_from(root, pool, split)
        else:
            raise DataError(f"{name}: no {folder}/<item>/s1.wav.., {folder}/*.wav or {pool}/*.wav under {root} "
                            "(docs/plugins.md, \"Your own data\")")
        if not items:
            raise DataError(f"{name}: no items under {root}")
        return AudioSplit(name, root, items, self.n_slots, self.sample_rate, crop, mode, self.seed)

    def _length(self, path: Path) -> int:
        info = audio_info(path)
        return int(info.frames * self.sample_rate / info.sample_rate)

    def _ref(self, root: Path, path: Path) -> SourceRef:
        return SourceRef(str(path.relative_to(root)), frames=self._length(path), resample=True)

    def _item_of_sources(self, root: Path, folder: Path) -> AudioItem:
        files = [folder / f"s{k + 1}{ext}" for k in range(self.n_slots) for ext in AUDIO_EXTENSIONS
                 if (folder / f"s{k + 1}{ext}").is_file()]
        if len(files) != self.n_slots:
            raise DataError(f"{folder}: expected s1.wav ... s{self.n_slots}.wav (K = {self.n_slots} sources), found "
                            f"{', '.join(f.name for f in _files(folder, AUDIO_EXTENSIONS)) or 'none'}")
        refs = tuple(self._ref(root, f) for f in files)
        return AudioItem(str(folder.relative_to(root)), refs, max(r.frames for r in refs))

    def _items_mixed_from(self, root: Path, pool: Path, split: str) -> list[AudioItem]:
        files = _files(pool, AUDIO_EXTENSIONS)
        if len(files) < self.n_slots:
            raise DataError(f"{pool}: {len(files)} source files, a mixture needs {self.n_slots}")
        order = torch.randperm(len(files), generator=torch.Generator().manual_seed(self.seed + SPLITS.index(split)))
        groups = order[: len(files) // self.n_slots * self.n_slots].view(-1, self.n_slots)
        items = []
        for group in groups.tolist():
            refs = tuple(self._ref(root, files[j]) for j in group)
            items.append(AudioItem("+".join(files[j].stem for j in group), refs, max(r.frames for r in refs)))
        return items

    def example(self, root: Path) -> tuple[AudioFolder, Path]:
        """Layout 1 for valid and test, layout 3 for training: tiny tones written as 16 kHz WAVs."""
        from .audio_io import write_audio

        g = np.random.default_rng(0)
        t = np.arange(8000) / self.sample_rate
        for split, count in (("valid", 2), ("test", 2)):
            for i in range(count):
                for k in range(self.n_slots):
                    tone = 0.3 * np.sin(2 * np.pi * g.uniform(100, 2000) * t).astype(np.float32)
                    write_audio(Path(root) / split / f"item{i}" / f"s{k + 1}.wav", tone, self.sample_rate)
        for j in range(4 * self.n_slots):
            tone = 0.3 * np.sin(2 * np.pi * g.uniform(100, 2000) * t).astype(np.float32)
            write_audio(Path(root) / "sources" / "train" / f"src{j}.wav", tone, self.sample_rate)
        small = AudioFolder(self.name, self.n_slots, self.sample_rate, 0.25, self.seed)
        return small, Path(root)


class ImageFolder(DatasetAdapter):
    modality = "image"
    supports_dynamic_mixing = True
    description = "your own images: <split>/*.png, all of one size, mixed K at a time"

    def __init__(self, name: str = "image-folder", n_slots: int = 2, seed: int = 20261205):
        self.name, self.n_slots, self.seed = name, n_slots, seed

    def open(self, split: str, root: Path | None = None, seed: int = 0, dynamic_mixing: bool = False):
        if split not in SPLITS:
            raise DataError(f"{self.name} has splits {', '.join(SPLITS)}, not '{split}'")
        folder = _need_root(self.name, root) / split
        files = _files(folder, IMAGE_EXTENSIONS) if folder.is_dir() else []
        if len(files) < self.n_slots:
            raise DataError(f"{self.name}/{split}: {len(files)} images in {folder}, a mixture needs {self.n_slots}")
        read = [self._read(f) for f in files]
        shapes = {}
        for f, x in zip(files, read, strict=True):
            shapes.setdefault(tuple(x.shape), f.name)
        if len(shapes) > 1:
            listed = "; ".join(f"{name}: {list(shape)}" for shape, name in list(shapes.items())[:3])
            raise DataError(f"{self.name}/{split}: images of different sizes or channels ({listed}); make them one "
                            "size and one mode first")
        images = torch.stack(read)
        pairing = pairing_for(split, dynamic_mixing)
        pair_seed = seed if pairing == "dynamic" else self.seed + SPLITS.index(split)
        return ImageMixtureSplit(f"{self.name}/{split}", images, self.n_slots, pair_seed, pairing,
                                 image_ids=[f.name for f in files])

    @staticmethod
    def _read(path: Path) -> torch.Tensor:
        try:
            from PIL import Image
        except ImportError as exc:
            raise DataError("image-folder reads images with Pillow: pip install pillow") from exc
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB" if image.mode not in ("L", "I;16", "I", "F") else "L"))
        except OSError as exc:
            raise DataError(f"{path}: not a readable image ({exc}); replace or remove it") from None
        scale = 65535.0 if array.dtype == np.uint16 else 255.0
        tensor = torch.from_numpy(array.astype(np.float32) / scale)
        return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)

    def example(self, root: Path) -> tuple[ImageFolder, Path]:
        from PIL import Image

        g = np.random.default_rng(0)
        for split, count in (("train", 8), ("valid", 4), ("test", 4)):
            (Path(root) / split).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray((g.random((8, 8)) * 255).astype(np.uint8), "L").save(Path(root) / split / f"{i}.png")
        return self, Path(root)
