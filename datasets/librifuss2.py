"""librifuss2: speech + an environmental sound, LibriFSD50K-style (K = 2, mixture = sum).

Speech: LibriSpeech ``LibriSpeech/<subset>/<speaker>/<chapter>/*.flac`` (16 kHz); train =
train-clean-100, valid = dev-clean, test = test-clean. Sounds: FSD50K when present under the root
(voice-labelled clips left out, 44.1 kHz resampled to 16 kHz with soxr), else FUSS's CC0 source
clips ``fsd_data/{train,validation,eval}/*/*.wav`` (see ``surf_bench/data/noise_pools.py``).

Items: one 4 s chunk per utterance of at least 4 s (offset drawn with a fixed seed), paired with
a sound clip and a 4 s window of it (clips shorter than 4 s are zero-padded), and a
speech-to-sound ratio drawn uniformly in [-5, 5] dB: the sound is scaled so that
10 log10(||speech||^2 / ||sound||^2) equals it on the chunk. slot 0 = speech, slot 1 = sound.
The manifest (files, offsets, SNRs) is drawn once with a fixed seed from the sorted file lists and
written to ``<root>/librifuss2_manifest/<split>.csv``; its rows make the manifest hash.

``fetch`` downloads LibriSpeech train-clean-100, dev-clean and test-clean (openslr.org, md5) and
``FUSS_fsd_data.tar.gz`` (Zenodo 3743844; size checked against Content-Length, no pinned checksum).
Licences: LibriSpeech CC BY 4.0; FUSS clips CC0; FSD50K CC BY 4.0 (clips CC0 / CC BY / CC BY-NC).
"""

from pathlib import Path

import numpy as np

from surf_bench.data.audio_io import audio_info
from surf_bench.data.audio_splits import AudioItem, AudioSplit, SourceRef
from surf_bench.data.base import DatasetAdapter
from surf_bench.data.examples import tone, write_audio_file
from surf_bench.data.fetch import Remote, download, extract
from surf_bench.data.librispeech import find_root, remote, utterances
from surf_bench.data.manifest import read_csv, write_csv
from surf_bench.data.noise_pools import find_pool
from surf_bench.errors import DataError

RATE = 16000
SPEECH = {"train": "train-clean-100", "valid": "dev-clean", "test": "test-clean"}
SEEDS = {"train": 41, "valid": 42, "test": 43}
COLUMNS = ["item", "speech", "speech_offset", "sound", "sound_offset", "sound_frames", "snr_db"]
FSD_DATA = Remote("https://zenodo.org/record/3743844/files/FUSS_fsd_data.tar.gz", "FUSS_fsd_data.tar.gz")
MAX_GAIN = 100.0


def speech_to_sound(item: AudioItem, sources: np.ndarray) -> np.ndarray:
    """Scale slot 1 so that the speech-to-sound ratio on the chunk is the item's ``snr_db``."""
    p_speech = float(np.mean(sources[0] ** 2))
    p_sound = max(float(np.mean(sources[1] ** 2)), 1e-10)
    gain = min(MAX_GAIN, (p_speech / (p_sound * 10 ** (item.snr_db / 10))) ** 0.5)
    out = sources.copy()
    out[1] *= np.float32(gain)
    return out


class LibriFUSS2(DatasetAdapter):
    name = "librifuss2"
    modality = "audio"
    n_slots = 2
    description = "LibriSpeech speech + FUSS/FSD50K sound, 4 s at 16 kHz (LibriFSD50K-style manifest)"

    def __init__(self, chunk_seconds: float = 4.0, snr_range: tuple = (-5.0, 5.0)):
        self.chunk_seconds, self.snr_range = chunk_seconds, snr_range

    def manifest_path(self, root: Path, split: str) -> Path:
        tag = f"{split}_{self.chunk_seconds:g}s_{self.snr_range[0]:g}_{self.snr_range[1]:g}dB"
        return root / "librifuss2_manifest" / f"{tag}.csv"

    def build_manifest(self, root: Path, split: str) -> list[dict]:
        chunk = int(round(self.chunk_seconds * RATE))
        librispeech = find_root(root)
        speech = utterances(librispeech, SPEECH[split])
        pool = find_pool(root, split)
        sounds = []
        for rel in pool.files:
            info = audio_info(root / rel)
            sounds.append((rel, info.frames * RATE // info.sample_rate))
        rng = np.random.default_rng(SEEDS[split])
        rows = []
        for path in speech:
            info = audio_info(path)
            if info.sample_rate != RATE:
                raise DataError(f"{path}: sample rate {info.sample_rate} Hz, LibriSpeech is {RATE} Hz")
            if info.frames < chunk:
                continue
            rel, frames = sounds[int(rng.integers(len(sounds)))]
            sound_offset = int(rng.integers(0, frames - chunk + 1)) if frames > chunk else 0
            rows.append(
                {
                    "item": path.stem,
                    "speech": str(path.relative_to(root)),
                    "speech_offset": int(rng.integers(0, info.frames - chunk + 1)),
                    "sound": rel,
                    "sound_offset": sound_offset,
                    "sound_frames": min(chunk, frames),
                    "snr_db": round(float(rng.uniform(*self.snr_range)), 3),
                }
            )
        if not rows:
            raise DataError(
                f"librifuss2: no {SPEECH[split]} utterance of {self.chunk_seconds:g} s or more (empty split)"
            )
        return rows

    def open(self, split: str, root: Path | None = None, seed: int = 0) -> AudioSplit:
        if split not in SPEECH:
            raise DataError(f"librifuss2 has splits {', '.join(SPEECH)}, not '{split}'")
        root = Path(root) if root else self.default_root()
        if not root.is_dir():
            raise DataError(
                f"librifuss2: dataset root {root} does not exist; run `surf-bench fetch librifuss2 "
                f"--root {root}`"
            )
        path = self.manifest_path(root, split)
        if not path.is_file():
            rows = self.build_manifest(root, split)
            try:
                write_csv(path, rows, COLUMNS)
            except OSError as exc:
                raise DataError(f"librifuss2: cannot write the manifest {path} ({exc.strerror})") from None
        rows = read_csv(path, COLUMNS, f"librifuss2/{split}")
        chunk = int(round(self.chunk_seconds * RATE))
        items = []
        for row in rows:
            try:
                speech = SourceRef(row["speech"], int(row["speech_offset"]))
                sound = SourceRef(
                    row["sound"], int(row["sound_offset"]), frames=int(row["sound_frames"]), resample=True
                )
                items.append(AudioItem(row["item"], (speech, sound), chunk, snr_db=float(row["snr_db"])))
            except ValueError:
                raise DataError(
                    f"{path}: bad row for item {row['item']!r}; delete the manifest to rebuild it"
                ) from None
        out = AudioSplit(
            f"librifuss2/{split}", root, items, 2, RATE, crop=None, seed=seed, rescale=speech_to_sound
        )
        return out.validate(headers=split != "train")

    @staticmethod
    def write_librispeech_example(root: Path, rate: int = RATE) -> None:
        """Two speakers x three tone "utterances" (0.5, 0.4, 0.2 s) per subset, as LibriSpeech FLACs."""
        for subset in SPEECH.values():
            for spk in (19, 26):
                for i, seconds in enumerate((0.5, 0.4, 0.2)):
                    path = Path(root) / "LibriSpeech" / subset / str(spk) / "198" / f"{spk}-198-{i:04d}.flac"
                    write_audio_file(path, tone(seconds, rate, 150 + spk, seed=spk + i), rate)

    @staticmethod
    def write_fsd_data_example(root: Path) -> None:
        """Three tone clips (0.6, 0.2, 1 s) per split in FUSS's ``fsd_data/<split>/<label>/`` layout."""
        for split in ("train", "validation", "eval"):
            for i, seconds in enumerate((0.6, 0.2, 1.0)):
                write_audio_file(
                    Path(root) / "fsd_data" / split / "sound" / f"{i}.wav",
                    tone(seconds, RATE, 2000 + 100 * i, seed=i),
                    RATE,
                )

    def example(self, root: Path) -> tuple["LibriFUSS2", Path]:
        """LibriSpeech + fsd_data trees of short tones, read in 0.3 s chunks (4 items per split)."""
        self.write_librispeech_example(root)
        self.write_fsd_data_example(root)
        return LibriFUSS2(chunk_seconds=0.3, snr_range=self.snr_range), Path(root)

    def fetch(self, root: Path) -> None:
        root = Path(root)
        for subset in SPEECH.values():
            if not (root / "LibriSpeech" / subset).is_dir():
                extract(download(remote(subset), root / "download", self.name), root, self.name)
        if not (root / "fsd_data").is_dir() and not (root / "FSD50K.ground_truth").is_dir():
            extract(download(FSD_DATA, root / "download", self.name), root, self.name)


DATASET = LibriFUSS2()
