"""The offline audio sets build (tiny layouts), deterministically and atomically, and their
mixtures are the sum of their sources."""

import numpy as np
import pytest
import torch

from surf_bench.data import espeak
from surf_bench.errors import DataError

pytestmark = pytest.mark.skipif(not espeak.available(), reason="espeakng-loader is not installed")


@pytest.fixture
def speech(adapter, tmp_path):
    small, _ = adapter("speech2-mini").example(tmp_path)  # 0.5 s; train (3, 2), valid (2, 2), test (2, 3)
    assert small.seconds == 0.5 and small.layout == {"train": (3, 2), "valid": (2, 2), "test": (2, 3)}
    return small


@pytest.fixture
def sounds(adapter, tmp_path):
    small, _ = adapter("fuss4-mini").example(tmp_path)
    assert small.seconds == 0.5 and small.layout == {"train": (6, 16, 12), "valid": (6, 8, 6), "test": (6, 16, 20)}
    return small


def test_speech2_mini_builds_and_mixes(tmp_path, speech):
    test = speech.open("test", tmp_path)
    assert len(test) == 6 and test.spec.item_shape == (8000,) and test.spec.n_slots == 2
    assert test.spec.mixing == "sum" and test.spec.sample_rate == 16000
    src = test.sources_batch(torch.arange(6))
    assert torch.equal(test.mixtures(torch.arange(6)), src.sum(1))
    assert (src.abs().amax(-1) > 0.01).all()  # both speakers audible in every item
    speakers = [[clip.split("@")[0].split("-")[1] for clip in item.split("+")] for item in test.item_ids()]
    assert all(a != b for a, b in speakers)  # two different speakers per mixture
    assert test.manifest_hash() == speech.open("test", tmp_path, seed=4).manifest_hash()
    longer = type(speech)(seconds=0.6, layout=speech.layout)
    assert longer.tag() != speech.tag() and test.item_ids()[0].startswith(speech.tag() + "|")
    train = speech.open("train", tmp_path, seed=1)
    first = train.item_ids()
    train.set_epoch(1)  # a fixed training set, whatever the run's seed or epoch
    assert len(train) == 6 and train.item_ids() == first == speech.open("train", tmp_path, seed=2).item_ids()
    assert not train.dynamic_mixing
    dynamic = speech.open("train", tmp_path, seed=1, dynamic_mixing=True)  # supervised methods only
    epoch0 = dynamic.item_ids()
    dynamic.set_epoch(1)
    assert dynamic.dynamic_mixing and dynamic.item_ids() != epoch0


def test_builds_are_identical_across_roots(tmp_path, speech):
    speech.open("valid", tmp_path / "a")
    speech.open("valid", tmp_path / "b")
    for name in ("train_pool.flac", "test_pool.flac", "test_items.csv"):
        v = f"v{speech.version}"
        assert (tmp_path / "a" / v / name).read_bytes() == (tmp_path / "b" / v / name).read_bytes()


def test_killed_build_leaves_nothing(tmp_path, speech, monkeypatch):
    def dies(folder):
        (folder / "train_pool.flac").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(speech, "build", dies)
    with pytest.raises(KeyboardInterrupt):
        speech.open("test", tmp_path)
    assert not (tmp_path / f"v{speech.version}").exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_corrupt_cache_is_a_data_error(tmp_path, speech):
    folder = speech.folder(tmp_path)
    (folder / "test_pool.flac").write_bytes(b"garbage" * 50)
    with pytest.raises(DataError, match="test_pool.flac"):
        speech.open("test", tmp_path)


def test_fuss4_mini_slots_and_sum(tmp_path, sounds):
    test = sounds.open("test", tmp_path)
    assert len(test) == 20 and test.spec.n_slots == 4 and test.spec.item_shape == (8000,)
    src = test.sources_batch(torch.arange(20))
    assert torch.equal(test.mixtures(torch.arange(20)), src.sum(1))
    active = src.abs().amax(-1) > 0
    assert active[:, 0].all()  # a background in every mixture
    counts = active.sum(1)
    assert counts.min() >= 1 and counts.max() <= 4 and len(set(counts.tolist())) > 1
    for row in active.numpy():  # active slots come first, zeros after
        assert not np.any(row[1:] & ~row[:-1])
    assert test.mixtures(torch.arange(20)).abs().max() < 1
    assert test.manifest_hash() == sounds.open("test", tmp_path).manifest_hash()
    kinds = {
        clip.split("@")[0].rsplit("-", 1)[1]
        for item in test.item_ids()
        for clip in item.split("+")
        if clip != "-"
    }
    assert "speech" in kinds or "babble" in kinds
    train = sounds.open("train", tmp_path, seed=3)
    assert len(train) == 12 and train.sources_batch(torch.arange(4)).shape == (4, 4, 8000)
    train.set_epoch(5)
    assert train.item_ids() == sounds.open("train", tmp_path, seed=4).item_ids()  # fixed training mixtures


def test_is_available_and_fetch_build(tmp_path, sounds):
    assert sounds.is_available(tmp_path)
    sounds.fetch(tmp_path)
    folder = tmp_path / f"v{sounds.version}"
    assert (folder / "build_info.json").is_file() and (folder / "README.txt").is_file()
