"""LibriSpeech (https://www.openslr.org/12): ``LibriSpeech/<subset>/<speaker>/<chapter>/*.flac``,
16 kHz mono FLAC; published archives and md5 sums from openslr.org/resources/12/md5sum.txt."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .fetch import Remote

BASE = "https://www.openslr.org/resources/12/"
MD5 = {
    "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
    "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
    "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
}


def remote(subset: str) -> Remote:
    return Remote(BASE + f"{subset}.tar.gz", f"{subset}.tar.gz", md5=MD5[subset])


def find_root(root: Path) -> Path:
    """The ``LibriSpeech`` folder under ``root`` (or ``root`` itself)."""
    for folder in (root / "LibriSpeech", root):
        if folder.is_dir() and any((folder / s).is_dir() for s in MD5):
            return folder
    raise DataError(f"no LibriSpeech/<subset>/ folders ({', '.join(MD5)}) under {root}")


def utterances(librispeech: Path, subset: str) -> list[Path]:
    """Sorted FLAC files of one subset (speaker/chapter/utterance)."""
    folder = librispeech / subset
    if not folder.is_dir():
        raise DataError(f"missing LibriSpeech subset folder {folder}")
    files = sorted(folder.glob("*/*/*.flac"))
    if not files:
        raise DataError(f"{folder}: no <speaker>/<chapter>/*.flac files (empty split)")
    return files
