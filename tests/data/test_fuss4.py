"""fuss4 / fuss4-reverb on a small ssdata tree in FUSS's layout (short clips to stay fast)."""

import pytest
import torch

from surf_bench.data.fuss import LISTS, FUSSAdapter, write_ssdata_example
from surf_bench.errors import DataError

RATE = 16000
SECONDS = 0.25


def make_ssdata(root, h, folder="ssdata", counts=(1, 2, 3, 4)):
    return write_ssdata_example(root, folder, counts, SECONDS)


def fuss(reverb=False, **kwargs):
    return FUSSAdapter("fuss4-reverb" if reverb else "fuss4", reverb, "test", seconds=SECONDS, **kwargs)


def test_registered(adapter):
    assert adapter("fuss4").n_slots == 4 and adapter("fuss4-reverb").reverb


def test_slots_padding_sum_and_hash(tmp_path, h):
    make_ssdata(tmp_path, h)
    test = fuss().open("test", tmp_path)
    assert len(test) == 4 and test.spec.item_shape == (int(SECONDS * RATE),) and test.spec.n_slots == 4
    src = test.sources_batch(torch.arange(4))
    active = (src.abs().sum(-1) > 0).sum(1)
    assert active.tolist() == [1, 2, 3, 4]
    assert torch.equal(test.mixtures(torch.arange(4)), src.sum(1))
    assert test.manifest_hash() == fuss().open("test", tmp_path, seed=3).manifest_hash()
    assert test.item_ids()[0].endswith(";-;-;-")


def test_reverb_layout_and_train_crop(tmp_path, h):
    make_ssdata(tmp_path / "fuss_dev", h, folder="ssdata_reverb")
    with pytest.raises(DataError, match="no ssdata/"):
        fuss().open("test", tmp_path)
    train = fuss(reverb=True, train_seconds=0.1).open("train", tmp_path, seed=2)
    assert train.sources_batch(torch.arange(2)).shape == (2, 4, int(0.1 * RATE))


def test_mixture_must_equal_sum_of_sources(tmp_path, h):
    base = make_ssdata(tmp_path, h)
    h.write(base / "eval" / "example00000.wav", h.tone(SECONDS, RATE, 999), RATE)
    with pytest.raises(DataError, match="differs from the sum"):
        fuss().open("test", tmp_path)


def test_corrupt_wrong_rate_too_many_and_empty(tmp_path, h):
    base = make_ssdata(tmp_path, h)
    victim = base / "eval" / "example00002_sources" / "foreground" / "foreground1_sound.wav"
    h.corrupt(victim)
    with pytest.raises(DataError, match="foreground1_sound.wav"):
        fuss().open("test", tmp_path)
    h.write(victim, h.tone(SECONDS, 8000), 8000)
    with pytest.raises(DataError, match="8000 Hz"):
        fuss().open("test", tmp_path)
    lines = (base / LISTS["valid"]).read_text().splitlines()
    (base / LISTS["valid"]).write_text(lines[3] + "\tx.wav\n")
    with pytest.raises(DataError, match="5 sources"):
        fuss().open("valid", tmp_path)
    (base / LISTS["train"]).write_text("")
    with pytest.raises(DataError, match="empty split"):
        fuss().open("train", tmp_path)
