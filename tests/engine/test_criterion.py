"""The unsupervised criterion: a perfect separator rebuilds every mixture after a remix, the
do-nothing one does not, and the criterion reads mixtures only."""

import torch

from surf_bench.config import resolve
from surf_bench.data.base import DataSpec, SourceSplit
from surf_bench.engine.criterion import remix_consistency


class HalvesSplit(SourceSplit):
    """Source 1 lives in the left half of the image, source 2 in the right: separable by a mask."""

    def __init__(self, n=12):
        g = torch.Generator().manual_seed(0)
        self.src = torch.rand(n, 2, 1, 4, 8, generator=g)
        self.src[:, 0, ..., 4:] = 0
        self.src[:, 1, ..., :4] = 0
        self.spec = DataSpec("halves", "image", 2, (1, 4, 8), "mean")

    def __len__(self):
        return len(self.src)

    def item_ids(self):
        return [str(i) for i in range(len(self))]

    def mixture(self, i):
        return self.src[i].mean(0)

    def sources(self, i):
        raise AssertionError("the criterion must not read sources")


class Masking:
    def separate(self, mix, nfe=None, generator=None):
        left = torch.zeros_like(mix)
        left[..., :4] = 1
        return torch.stack([mix * left, mix * (1 - left)], dim=1)


class DoNothing:
    def separate(self, mix, nfe=None, generator=None):
        return torch.stack([mix / 2, mix / 2], dim=1)


def test_perfect_separation_scores_far_below_doing_nothing():
    cfg = resolve("smoke", "image")
    cfg.eval.n_items, cfg.eval.batch_size = 0, 6
    split = HalvesSplit()
    perfect = remix_consistency(Masking(), split, cfg, "cpu")
    nothing = remix_consistency(DoNothing(), split, cfg, "cpu")
    assert perfect["remix_error_db"] < -100  # rebuilt exactly (up to float error)
    assert nothing["remix_error_db"] > -10
    assert len(perfect["remix_error_db_items"]) == 12
