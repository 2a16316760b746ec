"""cifar2: 2-source mixtures of CIFAR-10 images, m = (x1 + x2) / 2, 3 x 32 x 32, pixels in [0, 1].

Files: the "python version" of https://www.cs.toronto.edu/~kriz/cifar.html, i.e. the folder
``cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (pickled
dicts, ``b'data'`` uint8 [N, 3072]); the root may be that folder or its parent. Splits: the 50k
training images are shuffled with a fixed seed into train (45k) and valid (5k); test is the 10k
test batch. Train pairs are disjoint (each image in one mixture) and fixed; valid/test pairs are
fixed too (data.dynamic_mixing redraws training pairs per epoch, supervised methods only).
``fetch`` downloads ``cifar-10-python.tar.gz`` (md5 c58f30108f718f92721af3b95e74349a, as published
on that page) and unpacks it. Licence: CIFAR-10 by A. Krizhevsky, V. Nair and G. Hinton (no licence
stated by the authors; cite their 2009 tech report).
"""

from pathlib import Path

import numpy as np
import torch

from surf_bench.data.base import DatasetAdapter
from surf_bench.data.cifar_batches import read_batch, write_batch
from surf_bench.data.fetch import Remote, download, extract
from surf_bench.data.image_pairs import ImageMixtureSplit, pairing_for, shuffled_split_indices
from surf_bench.errors import DataError

SPLIT_SEED = 20260106
N_VALID = 5000
ARCHIVE = Remote(
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
)
FOLDER = "cifar-10-batches-py"


def find_batches(root: Path) -> Path:
    for folder in (root / FOLDER, root):
        if (folder / "test_batch").is_file() or (folder / "data_batch_1").is_file():
            return folder
    raise DataError(
        f"cifar2: no {FOLDER}/ (data_batch_1..5, test_batch) under {root}; run "
        f"`surf-bench fetch cifar2 --root {root}` or unpack cifar-10-python.tar.gz there"
    )


class CIFAR2(DatasetAdapter):
    name = "cifar2"
    modality = "image"
    n_slots = 2
    supports_dynamic_mixing = True
    description = "2-source mixtures of CIFAR-10 images (python batches; m = (x1+x2)/2)"

    def open(self, split: str, root: Path | None = None, seed: int = 0,
             dynamic_mixing: bool = False) -> ImageMixtureSplit:
        if split not in ("train", "valid", "test"):
            raise DataError(f"cifar2 has splits train, valid, test, not '{split}'")
        root = Path(root) if root else self.default_root()
        if not root.is_dir():
            raise DataError(
                f"cifar2: dataset root {root} does not exist; run `surf-bench fetch cifar2 --root {root}`"
            )
        folder = find_batches(root)
        if split == "test":
            images, _ = read_batch(folder / "test_batch")
            index = np.arange(len(images))
            ids = [f"test{i}" for i in index]
        else:
            images = np.concatenate([read_batch(folder / f"data_batch_{b}")[0] for b in range(1, 6)])
            n = len(images)
            n_valid = min(N_VALID, n // 10)  # 5k of the real set; a tenth of a small fixture
            index = shuffled_split_indices(n, {"valid": n_valid / n, "train": 1 - n_valid / n}, SPLIT_SEED)[
                split
            ]
            index = index.numpy()
            ids = [f"train{int(i)}" for i in index]
        pixels = torch.from_numpy(images[index]).float().div_(255.0)
        pairing = pairing_for(split, dynamic_mixing)
        pair_seed = seed if pairing == "dynamic" else SPLIT_SEED + (2 if split == "train" else 1)
        return ImageMixtureSplit(
            f"cifar2/{split}", pixels, self.n_slots, pair_seed, pairing, image_ids=ids
        )

    @staticmethod
    def write_example(root: Path, per_batch: int = 30, n_test: int = 20) -> Path:
        """Random images in ``cifar-10-batches-py/`` (five training batches and the test batch, each a
        pickled dict as published); returns that folder."""
        folder = Path(root) / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(1)
        for b in range(1, 6):
            write_batch(
                folder / f"data_batch_{b}",
                rng.integers(0, 256, (per_batch, 3, 32, 32)),
                rng.integers(0, 10, per_batch),
            )
        write_batch(folder / "test_batch", rng.integers(0, 256, (n_test, 3, 32, 32)), rng.integers(0, 10, n_test))
        return folder

    def example(self, root: Path) -> tuple["CIFAR2", Path]:
        self.write_example(root)
        return self, Path(root)

    def fetch(self, root: Path) -> None:
        root = Path(root)
        archive = download(ARCHIVE, root, self.name)
        extract(archive, root, self.name)


DATASET = CIFAR2()
