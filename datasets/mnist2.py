"""mnist2: 2-source mixtures of MNIST digits, m = (x1 + x2) / 2, pixels in [0, 1] [paper demo].

Files: the four IDX files of http://yann.lecun.com/exdb/mnist/ (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each ``.gz``
or not, also the ``train-images.idx3-ubyte`` spelling), directly under the root or in the
torchvision layout ``<root>/MNIST/raw/``. Splits: the 60k training images are shuffled with a fixed
seed into train (55k) and valid (5k); test is the official 10k. Train pairs are disjoint (each image in one
mixture) and fixed by a constant seed, like valid/test pairs, so every method and machine
scores the same mixtures. ``fetch`` downloads from the PyTorch mirror (then the original site) and
checks the published md5 and size. Licence: MNIST by Y. LeCun, C. Cortes and C. Burges (CC BY-SA 3.0).
"""

from pathlib import Path

import numpy as np
import torch

from surf_bench.data.base import DatasetAdapter
from surf_bench.data.fetch import Remote, download
from surf_bench.data.idx import read_idx, write_idx
from surf_bench.data.image_pairs import ImageMixtureSplit, pairing_for, shuffled_split_indices
from surf_bench.errors import DataError

SPLIT_SEED = 20260105
N_VALID = 5000
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FILES = {  # name: (md5, size in bytes) as published with the gzip files
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", 28881),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", 1648877),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", 4542),
}


def find_idx(root: Path, stem: str) -> Path:
    """The file for ``stem`` under ``root`` in any of the usual layouts and spellings."""
    dotted = stem.replace("-idx", ".idx")
    for folder in (root, root / "MNIST" / "raw", root / "raw", root / "mnist"):
        for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise DataError(
        f"mnist2: no {stem}[.gz] under {root} (nor {root}/MNIST/raw); run "
        f"`surf-bench fetch mnist2 --root {root}` or put the four MNIST IDX files there"
    )


class MNIST2(DatasetAdapter):
    name = "mnist2"
    modality = "image"
    n_slots = 2
    supports_dynamic_mixing = True
    description = "2-source mixtures of MNIST digits (60k/10k IDX files; m = (x1+x2)/2)"

    def _load(self, root: Path, prefix: str) -> tuple[torch.Tensor, np.ndarray]:
        images = read_idx(find_idx(root, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(find_idx(root, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataError(
                f"mnist2: {prefix} images must be uint8 [N, 28, 28], got {images.dtype} {images.shape}"
            )
        if len(labels) != len(images):
            raise DataError(f"mnist2: {len(images)} {prefix} images but {len(labels)} labels")
        return torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1), labels

    def open(self, split: str, root: Path | None = None, seed: int = 0,
             dynamic_mixing: bool = False) -> ImageMixtureSplit:
        if split not in ("train", "valid", "test"):
            raise DataError(f"mnist2 has splits train, valid, test, not '{split}'")
        root = Path(root) if root else self.default_root()
        if not root.is_dir():
            raise DataError(
                f"mnist2: dataset root {root} does not exist; run `surf-bench fetch mnist2 --root {root}`"
            )
        if split == "test":
            images, _ = self._load(root, "t10k")
            index = torch.arange(len(images))
            ids = [f"t10k{i}" for i in range(len(images))]
        else:
            images, _ = self._load(root, "train")
            n = len(images)
            n_valid = min(N_VALID, n // 10)  # 5k of the real set; a tenth of a small fixture
            parts = shuffled_split_indices(n, {"valid": n_valid / n, "train": 1 - n_valid / n}, SPLIT_SEED)
            index = parts[split]
            ids = [f"train{int(i)}" for i in index]
        pairing = pairing_for(split, dynamic_mixing)
        pair_seed = seed if pairing == "dynamic" else SPLIT_SEED + (2 if split == "train" else 1)
        return ImageMixtureSplit(
            f"mnist2/{split}",
            images[index],
            self.n_slots,
            pair_seed,
            pairing,
            image_ids=ids,
        )

    @staticmethod
    def write_example(root: Path, n_train: int = 200, n_test: int = 40, gz: bool = True,
                      torchvision: bool = True) -> Path:
        """Random uint8 digits in the four IDX files (``.gz`` or not, torchvision's ``MNIST/raw/``
        layout or flat); returns the folder written."""
        folder = Path(root) / "MNIST" / "raw" if torchvision else Path(root)
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        suffix = ".gz" if gz else ""
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            write_idx(
                folder / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            )
            write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n, dtype=np.uint8))
        return folder

    def example(self, root: Path) -> tuple["MNIST2", Path]:
        self.write_example(root)
        return self, Path(root)

    def fetch(self, root: Path) -> None:
        for stem, (md5, size) in FILES.items():
            last = None
            for mirror in MIRRORS:
                try:
                    download(
                        Remote(mirror + stem + ".gz", stem + ".gz", md5=md5, size=size), Path(root), self.name
                    )
                    break
                except DataError as exc:
                    last = exc
            else:
                raise last


DATASET = MNIST2()
