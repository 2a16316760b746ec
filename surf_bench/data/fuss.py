"""FUSS, the Free Universal Sound Separation data (https://zenodo.org/record/3743844,
google-research/sound-separation ``datasets/fuss``): 10 s, 16 kHz, 16-bit mono WAV; 1 background
+ 0-3 foreground sources per mixture; 20000 train / 1000 validation / 1000 eval.

Layout: ``ssdata/`` (dry) or ``ssdata_reverb/`` with ``{train,validation,eval}_example_list.txt``;
each line holds tab-separated paths relative to that folder: the mixture WAV, then the
background and the foreground source WAVs (``<split>/exampleNNNNN_sources/...``). The FUSS
recipe checks and rewrites mixtures to equal the sum of their sources (``check_and_fix_folder``),
so mixture = sum of sources here; :func:`check_mixture_sum` verifies it on one item.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .audio_io import read_audio
from .audio_splits import AudioItem, AudioSplit, SourceRef
from .base import DatasetAdapter
from .examples import tone, write_audio_file
from .fetch import Remote, download, extract

RATE = 16000
SECONDS = 10
K = 4
LISTS = {
    "train": "train_example_list.txt",
    "valid": "validation_example_list.txt",
    "test": "eval_example_list.txt",
}
ZENODO = "https://zenodo.org/record/3743844/files/"


def archive(reverb: bool) -> Remote:
    """The published archive (Zenodo gives no checksum we could verify here: size via Content-Length)."""
    name = "FUSS_ssdata_reverb.tar.gz" if reverb else "FUSS_ssdata.tar.gz"
    return Remote(ZENODO + name, name)


def find_ssdata(root: Path, reverb: bool) -> Path:
    folder = "ssdata_reverb" if reverb else "ssdata"
    for candidate in (root / folder, root / "fuss_dev" / folder, root / "FUSS" / folder, root):
        if (candidate / LISTS["test"]).is_file() or (candidate / LISTS["train"]).is_file():
            return candidate
    raise DataError(
        f"fuss: no {folder}/ with *_example_list.txt under {root}; run `surf-bench fetch "
        f"fuss4{'-reverb' if reverb else ''} --root {root}` or unpack FUSS_{folder}.tar.gz there"
    )


def read_example_list(path: Path, n_slots: int = K, length: int = RATE * SECONDS) -> list[AudioItem]:
    """Items of one example list: slots = background, foregrounds, then inactive (None)."""
    if not path.is_file():
        raise DataError(f"fuss: missing example list {path}")
    items = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\n").split("\t")
        mixture, sources = fields[0], fields[1:]
        if not sources or len(sources) > n_slots:
            raise DataError(f"{path}:{number}: {len(sources)} sources, FUSS has 1 to {n_slots}")
        slots = tuple(SourceRef(s) for s in sources) + (None,) * (n_slots - len(sources))
        items.append(AudioItem(mixture, slots, length))
    if not items:
        raise DataError(f"fuss: {path} lists no examples (empty split)")
    return items


def check_mixture_sum(folder: Path, item: AudioItem, tolerance: float = 2e-3) -> None:
    """The mixture WAV must equal the sum of its sources (up to 16-bit rounding per file)."""
    mix = read_audio(folder / item.item_id, RATE, 0, item.length)
    total = sum(read_audio(folder / ref.path, RATE, 0, item.length) for ref in item.slots if ref is not None)
    error = float(np.max(np.abs(mix - total)))
    if error > tolerance:
        raise DataError(
            f"fuss: {folder / item.item_id} differs from the sum of its sources by {error:.4f} "
            "(max abs); this is not FUSS's mixture-consistent layout"
        )


EXAMPLE_SECONDS = 0.25


def write_ssdata_example(
    root: Path, folder: str = "ssdata", counts: tuple = (1, 2, 3, 4), seconds: float = EXAMPLE_SECONDS
) -> Path:
    """A tiny ``ssdata`` tree in FUSS's layout: per split one example per entry of ``counts``
    (1 background + count - 1 foreground tones), its mixture WAV the sum of its sources, and the
    example lists; returns the folder written."""
    base = Path(root) / folder
    for split, list_name in LISTS.items():
        sub = {"train": "train", "valid": "validation", "test": "eval"}[split]
        lines = []
        for i, count in enumerate(counts):
            stem = f"{sub}/example{i:05d}"
            sources = []
            total = 0
            for s in range(count):
                role = "background" if s == 0 else "foreground"
                x = tone(seconds, RATE, 200 + 150 * s, amp=0.2, seed=10 * i + s)
                total = total + x
                write_audio_file(base / f"{stem}_sources" / role / f"{role}{s}_sound.wav", x, RATE)
                sources.append(f"{stem}_sources/{role}/{role}{s}_sound.wav")
            write_audio_file(base / f"{stem}.wav", total, RATE)
            lines.append("\t".join([f"{stem}.wav", *sources]))
        (base / list_name).write_text("\n".join(lines) + "\n")
    return base


class FUSSAdapter(DatasetAdapter):
    """The FUSS adapter; ``datasets/fuss4.py`` (dry) and ``datasets/fuss4_reverb.py`` instantiate it."""

    modality = "audio"
    n_slots = K

    def __init__(
        self,
        name: str,
        reverb: bool,
        description: str,
        train_seconds: float | None = None,
        seconds: float = SECONDS,
    ):
        self.name, self.reverb, self.description = name, reverb, description
        self.train_seconds, self.seconds = train_seconds, seconds

    def open(self, split: str, root: Path | None = None, seed: int = 0) -> AudioSplit:
        if split not in LISTS:
            raise DataError(f"{self.name} has splits {', '.join(LISTS)}, not '{split}'")
        root = Path(root) if root else self.default_root()
        if not root.is_dir():
            raise DataError(
                f"{self.name}: dataset root {root} does not exist; run `surf-bench fetch {self.name} "
                f"--root {root}`"
            )
        folder = find_ssdata(root, self.reverb)
        items = read_example_list(folder / LISTS[split], K, int(round(self.seconds * RATE)))
        train = split == "train"
        crop = int(round(self.train_seconds * RATE)) if (train and self.train_seconds) else None
        out = AudioSplit(
            f"{self.name}/{split}",
            folder,
            items,
            K,
            RATE,
            crop,
            crop_mode="random" if train else "centre",
            seed=seed,
        )
        out.validate(headers=not train)
        if not train:
            check_mixture_sum(folder, items[0])
        return out

    def example(self, root: Path) -> tuple[FUSSAdapter, Path]:
        """Four 0.25 s examples (1 to 4 sources) per split, in ``ssdata/`` or ``ssdata_reverb/``."""
        write_ssdata_example(root, "ssdata_reverb" if self.reverb else "ssdata")
        train_seconds = min(self.train_seconds, EXAMPLE_SECONDS) if self.train_seconds else None
        adapter = FUSSAdapter(self.name, self.reverb, self.description, train_seconds, seconds=EXAMPLE_SECONDS)
        return adapter, Path(root)

    def fetch(self, root: Path) -> None:
        root = Path(root)
        extract(download(archive(self.reverb), root / "download", self.name), root, self.name)
