"""libri2mix: 2 clean speakers from LibriMix (https://github.com/JorisCos/LibriMix), mixture = s1 + s2.

Layout (as LibriMix's generator writes it): ``<root>/Libri2Mix/wav{8k,16k}/{min,max}/metadata/
mixture_<subset>_mix_clean.csv`` (columns mixture_ID, mixture_path, source_1_path, source_2_path,
length) and ``.../<subset>/{mix_clean,s1,s2}/<mixture_ID>.wav``; ``root`` may also be the
``Libri2Mix`` folder or one ``wavXk/<mode>`` folder (then its rate and mode are used). Default:
16 kHz, "min" mode. Splits: train = train-360 (the SURF demo trains on train-360-clean only),
valid = dev, test = test. Audio is read from s1/s2; the mixture is their sum (mix_clean equals it
up to 16-bit rounding), shape [T].

Crops: train items are 4 s windows drawn per (seed, epoch, item); valid/test items are the
centred 4 s window of each mixture (zero-padded at the end when shorter), so every method scores
the same 3000 test windows. ``eval_seconds=None`` keeps full-length test mixtures (batch size 1).

``fetch`` downloads LibriSpeech dev-clean, test-clean and train-clean-360 from openslr.org
(published md5) and LibriMix's metadata CSVs from its GitHub repository (no published checksum:
they are checked by their columns), then generates ``mix_clean`` following LibriMix's recipe
(no WHAM! noise is needed for the clean mixtures). Licences: LibriSpeech CC BY 4.0; LibriMix
scripts and metadata MIT.
"""

import re
from pathlib import Path

from surf_bench.data.audio_splits import AudioItem, AudioSplit, SourceRef
from surf_bench.data.base import DatasetAdapter
from surf_bench.data.examples import tone, write_audio_file
from surf_bench.data.fetch import Remote, download, extract
from surf_bench.data.librimix import MIXTURE_COLUMNS, generate_mix_clean
from surf_bench.data.librispeech import find_root, remote
from surf_bench.data.manifest import read_csv, write_csv
from surf_bench.errors import DataError

SUBSETS = {"train": "train-360", "valid": "dev", "test": "test"}
LIBRISPEECH = {"train-360": "train-clean-360", "dev": "dev-clean", "test": "test-clean"}
METADATA_URL = "https://raw.githubusercontent.com/JorisCos/LibriMix/master/metadata/Libri2Mix/"


class Libri2Mix(DatasetAdapter):
    name = "libri2mix"
    modality = "audio"
    n_slots = 2
    description = "Libri2Mix clean 2-speaker mixtures (LibriMix layout; 16 kHz min; train-360)"

    def __init__(
        self,
        sample_rate: int = 16000,
        mode: str = "min",
        train_seconds: float = 4.0,
        eval_seconds: float | None = 4.0,
    ):
        if sample_rate not in (8000, 16000) or mode not in ("min", "max"):
            raise ValueError("libri2mix: sample_rate must be 8000 or 16000 and mode min or max")
        self.sample_rate, self.mode = sample_rate, mode
        self.train_seconds, self.eval_seconds = train_seconds, eval_seconds

    def mode_dir(self, root: Path) -> tuple[Path, int, str]:
        """The ``wavXk/<mode>`` folder under ``root``, with its rate and mode."""
        match = re.fullmatch(r"wav(8|16)k", root.parent.name)
        if (root / "metadata").is_dir() and match and root.name in ("min", "max"):
            return root, int(match.group(1)) * 1000, root.name
        sub = Path(f"wav{self.sample_rate // 1000}k") / self.mode
        for folder in (root / "Libri2Mix" / sub, root / sub):
            if (folder / "metadata").is_dir():
                return folder, self.sample_rate, self.mode
        raise DataError(
            f"libri2mix: no Libri2Mix/{sub}/metadata/ under {root}; run `surf-bench fetch libri2mix "
            f"--root {root}` or generate LibriMix there with its official scripts"
        )

    def open(self, split: str, root: Path | None = None, seed: int = 0) -> AudioSplit:
        if split not in SUBSETS:
            raise DataError(f"libri2mix has splits {', '.join(SUBSETS)}, not '{split}'")
        root = Path(root) if root else self.default_root()
        if not root.is_dir():
            raise DataError(
                f"libri2mix: dataset root {root} does not exist; run `surf-bench fetch libri2mix "
                f"--root {root}`"
            )
        folder, rate, mode = self.mode_dir(root)
        subset = SUBSETS[split]
        rows = read_csv(
            folder / "metadata" / f"mixture_{subset}_mix_clean.csv", MIXTURE_COLUMNS, f"libri2mix/{split}"
        )
        items = []
        for row in rows:
            try:
                length = int(row["length"])
            except ValueError:
                raise DataError(f"libri2mix: bad length {row['length']!r} for {row['mixture_ID']}") from None
            slots = tuple(SourceRef(f"{subset}/s{k}/{Path(row[f'source_{k}_path']).name}") for k in (1, 2))
            items.append(AudioItem(row["mixture_ID"], slots, length))
        train = split == "train"
        seconds = self.train_seconds if train else self.eval_seconds
        crop = None if seconds is None else int(round(seconds * rate))
        out = AudioSplit(
            f"libri2mix/{split}",
            folder,
            items,
            2,
            rate,
            crop,
            crop_mode="random" if train else "centre",
            seed=seed,
        )
        return out.validate(headers=not train)  # train: existence only (100k files), read errors later

    @staticmethod
    def write_example(
        root: Path, n: int = 3, rate: int = 16000, mode: str = "min", seconds: tuple = (0.6, 0.5, 0.3)
    ) -> Path:
        """``n`` two-tone mixtures per subset in LibriMix's layout (s1, s2, mix_clean WAVs and the
        metadata CSVs, whose paths point elsewhere as on the machine that generated them); returns
        the ``wavXk/<mode>`` folder."""
        mode_dir = Path(root) / "Libri2Mix" / f"wav{rate // 1000}k" / mode
        for subset in SUBSETS.values():
            rows = []
            for i in range(n):
                mix_id = f"{100 + i}-{i}-000{i}_{200 + i}-{i}-000{i}"
                length = int(seconds[i % len(seconds)] * rate)
                s1 = tone(length / rate, rate, 300 + 50 * i, seed=i)
                s2 = tone(length / rate, rate, 700, 0.2, seed=9 + i)
                for name, x in (("s1", s1), ("s2", s2), ("mix_clean", s1 + s2)):
                    write_audio_file(mode_dir / subset / name / f"{mix_id}.wav", x, rate)
                rows.append(
                    {
                        "mixture_ID": mix_id,
                        "mixture_path": f"/elsewhere/{subset}/mix_clean/{mix_id}.wav",
                        "source_1_path": f"/elsewhere/{subset}/s1/{mix_id}.wav",
                        "source_2_path": f"/elsewhere/{subset}/s2/{mix_id}.wav",
                        "length": length,
                    }
                )
            write_csv(mode_dir / "metadata" / f"mixture_{subset}_mix_clean.csv", rows)
        return mode_dir

    def example(self, root: Path) -> tuple["Libri2Mix", Path]:
        """Three short mixtures per split, read with 0.25 s training and 0.4 s evaluation crops."""
        self.write_example(root, rate=self.sample_rate, mode=self.mode)
        return Libri2Mix(self.sample_rate, self.mode, train_seconds=0.25, eval_seconds=0.4), Path(root)

    def fetch(self, root: Path) -> None:
        root = Path(root)
        downloads = root / "download"
        for subset in LIBRISPEECH.values():
            if not (root / "LibriSpeech" / subset).is_dir():
                extract(download(remote(subset), downloads, self.name), root, self.name)
        librispeech = find_root(root)
        mode_dir = root / "Libri2Mix" / f"wav{self.sample_rate // 1000}k" / self.mode
        for source in LIBRISPEECH.values():
            name = f"libri2mix_{source}.csv"
            csv_path = download(Remote(METADATA_URL + name, name), root / "LibriMix_metadata", self.name)
            generate_mix_clean(librispeech, csv_path, mode_dir, self.sample_rate, self.mode)


DATASET = Libri2Mix()
