"""mnist2 and cifar2 on small files written in the published formats."""

import pickle
import time

import numpy as np
import pytest
import torch

from surf_bench import registry
from surf_bench.data.cifar_batches import read_batch
from surf_bench.data.idx import read_idx, write_idx
from surf_bench.errors import DataError


def make_mnist(root, n_train=200, n_test=40, gz=True, torchvision=True):
    return registry.get_dataset("mnist2").write_example(root, n_train, n_test, gz, torchvision)


def make_cifar(root, per_batch=30, n_test=20):
    return registry.get_dataset("cifar2").write_example(root, per_batch, n_test)


def test_idx_round_trip_and_errors(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, array)
        assert np.array_equal(read_idx(tmp_path / name), array)
    raw = (tmp_path / "a.idx").read_bytes()
    (tmp_path / "short.idx").write_bytes(raw[:-5])
    with pytest.raises(DataError, match="short.idx.*truncated"):
        read_idx(tmp_path / "short.idx")
    gz = (tmp_path / "a.idx.gz").read_bytes()
    (tmp_path / "short.idx.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(DataError, match="short.idx.gz"):
        read_idx(tmp_path / "short.idx.gz")
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04" + raw[4:])
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "bad.idx")


@pytest.mark.parametrize("gz,torchvision", [(True, True), (False, False)])
def test_mnist2_layouts_splits_and_fixed_test_pairs(tmp_path, adapter, gz, torchvision):
    make_mnist(tmp_path, gz=gz, torchvision=torchvision)
    mnist = adapter("mnist2")
    test_a, test_b = mnist.open("test", tmp_path, seed=0), mnist.open("test", tmp_path, seed=5)
    assert len(test_a) == 40 and test_a.spec.item_shape == (1, 28, 28) and test_a.spec.mixing == "mean"
    assert test_a.manifest_hash() == test_b.manifest_hash()  # fixed whatever the run's seed
    mix, src = test_a.mixtures(torch.arange(4)), test_a.sources_batch(torch.arange(4))
    assert torch.allclose(mix, src.mean(1)) and 0 <= src.min() and src.max() <= 1
    train, valid = mnist.open("train", tmp_path), mnist.open("valid", tmp_path)
    assert len(train.images) == 180 and len(valid) == 20
    assert not set(train.image_ids) & set(valid.image_ids)
    # Training mixtures as in the unsupervised setting: disjoint pairs (each image in exactly one
    # mixture), fixed by the dataset whatever the run's seed and epoch.
    assert len(train) == 90 and sorted(train.groups.flatten().tolist()) == list(range(180))
    assert not train.dynamic_mixing
    first = train.item_ids()
    train.set_epoch(3)
    assert train.item_ids() == first == mnist.open("train", tmp_path, seed=9).item_ids()
    # Dynamic mixing (supervised methods only): every image, new pairs each epoch, from the run's seed.
    dynamic = mnist.open("train", tmp_path, seed=1, dynamic_mixing=True)
    assert dynamic.dynamic_mixing and len(dynamic) == 180
    epoch0 = dynamic.item_ids()
    dynamic.set_epoch(1)
    assert dynamic.item_ids() != epoch0


def test_mnist2_errors(tmp_path, adapter):
    mnist = adapter("mnist2")
    with pytest.raises(DataError, match="does not exist"):
        mnist.open("test", tmp_path / "nowhere")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        mnist.open("test", tmp_path)  # empty root
    folder = make_mnist(tmp_path, n_test=1)
    with pytest.raises(DataError, match="fewer than the 2"):
        mnist.open("test", tmp_path)  # a split too small to mix
    raw = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(raw[:20])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        mnist.open("test", tmp_path)


def test_cifar2_batches(tmp_path, adapter):
    make_cifar(tmp_path)
    cifar = adapter("cifar2")
    test = cifar.open("test", tmp_path)
    assert len(test) == 20 and test.spec.item_shape == (3, 32, 32)
    assert (
        test.manifest_hash() == cifar.open("test", tmp_path / "cifar-10-batches-py", seed=3).manifest_hash()
    )
    train, valid = cifar.open("train", tmp_path), cifar.open("valid", tmp_path)
    assert len(train.images) + len(valid) == 150 and not set(train.image_ids) & set(valid.image_ids)
    assert len(train) == len(train.images) // 2 and len(set(train.groups.flatten().tolist())) == 2 * len(train)


def test_cifar2_corrupt_truncated_and_hostile(tmp_path, adapter):
    folder = make_cifar(tmp_path)
    data = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="test_batch.*corrupt or truncated"):
        adapter("cifar2").open("test", tmp_path)

    class Boom:
        def __reduce__(self):
            return (time.sleep, (0,))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Boom()}))
    with pytest.raises(DataError, match="refusing to load time.sleep"):
        read_batch(folder / "test_batch")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no cifar-10-batches-py"):
        adapter("cifar2").open("test", tmp_path / "empty")
