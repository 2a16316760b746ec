"""The sampler: a corrupt (non-finite) item is a data error naming the item; distinct mixtures."""

import pytest
import torch

from surf_bench.data.views import EpochSampler
from surf_bench.errors import DataError
from tests.helpers import tiny_image_split


def test_a_nan_item_is_a_data_error_that_names_it():
    split = tiny_image_split(n_images=8)
    split.images[split.groups[5, 0]] = float("nan")
    sampler = EpochSampler(split, batch_size=8, seed=0, supervised=False)
    with pytest.raises(DataError, match=r"training item 5 \(.*\) has a non-finite mixture"):
        sampler.next()


def test_distinct_mixtures_fixed_and_dynamic():
    fixed = tiny_image_split(n_images=16, pairing="disjoint")
    sampler = EpochSampler(fixed, batch_size=4, seed=0, supervised=True)
    for _ in range(5):
        sampler.next()
    assert len(fixed) == 8 and sampler.distinct_mixtures() == 8
    dynamic = tiny_image_split(n_images=16, pairing="dynamic")
    sampler = EpochSampler(dynamic, batch_size=4, seed=0, supervised=True)
    seen = set()
    for _ in range(9):  # 2 epochs of 4 batches, then one batch of the third
        seen.update(dynamic.item_ids())
        sampler.next()
    seen.update(dynamic.item_ids())
    assert sampler.epoch == 2 and sampler.distinct_mixtures() == 3 * 16 >= len(seen) > 16
    assert torch.isfinite(dynamic.images).all()
