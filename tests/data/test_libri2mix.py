"""libri2mix on a small LibriMix tree written as LibriMix's generator writes it, and the generator."""

import numpy as np
import pytest
import torch

from surf_bench import registry
from surf_bench.data.librimix import generate_mix_clean
from surf_bench.data.manifest import write_csv
from surf_bench.errors import DataError

RATE = 16000


def make_librimix(root, h, n=3, rate=RATE, mode="min", seconds=(0.6, 0.5, 0.3)):
    return registry.get_dataset("libri2mix").write_example(root, n, rate, mode, seconds)


@pytest.fixture
def libri(adapter):
    cls = type(adapter("libri2mix"))
    return cls(train_seconds=0.25, eval_seconds=0.4)


def test_open_splits_crops_and_sum(tmp_path, h, libri):
    make_librimix(tmp_path, h)
    test = libri.open("test", tmp_path)
    assert len(test) == 3 and test.spec.item_shape == (int(0.4 * RATE),) and test.spec.mixing == "sum"
    assert test.spec.sample_rate == RATE and test.spec.n_slots == 2
    src, mix = test.sources_batch(torch.arange(3)), test.mixtures(torch.arange(3))
    assert torch.equal(mix, src.sum(1))
    assert torch.all(src[2, :, int(0.3 * RATE) :] == 0)  # shorter than the crop: zero-padded
    assert test.manifest_hash() == libri.open("test", tmp_path, seed=7).manifest_hash()
    assert "test/s1/" in test.item_ids()[0] and "@" in test.item_ids()[0]
    train = libri.open("train", tmp_path, seed=1)
    first = train.item_ids()
    assert (
        train.item_ids() == libri.open("train", tmp_path, seed=1).item_ids()
    )  # same (seed, epoch): same crops
    train.set_epoch(1)
    assert train.item_ids() != first  # new crops next epoch
    assert train.sources_batch(torch.arange(2)).shape == (2, 2, int(0.25 * RATE))


def test_mode_dir_root_and_full_length(tmp_path, h, adapter):
    mode_dir = make_librimix(tmp_path, h, rate=8000, mode="max")
    cls = type(adapter("libri2mix"))
    split = cls(eval_seconds=None).open("test", mode_dir)
    assert split.spec.sample_rate == 8000 and split.spec.item_shape == (None,)
    assert split.sources(0).shape == (2, int(0.6 * 8000))


def test_corrupt_wrong_rate_empty_and_missing(tmp_path, h, libri):
    with pytest.raises(DataError, match="does not exist"):
        libri.open("test", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Libri2Mix/wav16k/min/metadata"):
        libri.open("test", tmp_path / "empty")
    mode_dir = make_librimix(tmp_path, h)
    bad = sorted((mode_dir / "test" / "s2").glob("*.wav"))[1]
    h.corrupt(bad)
    with pytest.raises(DataError, match=bad.name):
        libri.open("test", tmp_path)
    h.write(bad, h.tone(0.5, 8000), 8000)
    with pytest.raises(DataError, match="8000 Hz, expected 16000"):
        libri.open("test", tmp_path)
    h.write(bad, h.tone(0.5, RATE), RATE)
    h.truncate(bad, 0.3)
    with pytest.raises(DataError, match="truncated"):
        libri.open("test", tmp_path)
    csv = mode_dir / "metadata" / "mixture_dev_mix_clean.csv"
    csv.write_text(csv.read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError, match="empty split"):
        libri.open("valid", tmp_path)


def test_truncated_training_file_fails_on_read(tmp_path, h, libri):
    mode_dir = make_librimix(tmp_path, h)
    train = libri.open("train", tmp_path)
    h.truncate(sorted((mode_dir / "train-360" / "s1").glob("*.wav"))[0], 0.2)
    with pytest.raises(DataError, match="truncated"):
        train.sources_batch(torch.arange(3))


def test_generator_follows_the_librimix_recipe(tmp_path, h, libri):
    librispeech = tmp_path / "LibriSpeech"
    rows = []
    for subset, tag in (("train-clean-360", "train-360"), ("dev-clean", "dev"), ("test-clean", "test")):
        entries = []
        for i in range(2):
            a = h.write(
                librispeech / subset / "19" / "198" / f"19-198-{i:04d}.flac", h.tone(0.7, RATE, 300), RATE
            )
            b = h.write(
                librispeech / subset / "26" / "495" / f"26-495-{i:04d}.flac", h.tone(0.5, RATE, 900), RATE
            )
            entries.append(
                {
                    "mixture_ID": f"{a.stem}_{b.stem}",
                    "source_1_path": str(a.relative_to(librispeech)),
                    "source_1_gain": 0.5,
                    "source_2_path": str(b.relative_to(librispeech)),
                    "source_2_gain": 1.5,
                    "noise_path": "tt/x.wav",
                    "noise_gain": 1.0,
                }
            )
        csv = tmp_path / "meta" / f"libri2mix_{subset}.csv"
        write_csv(csv, entries)
        out = generate_mix_clean(librispeech, csv, tmp_path / "Libri2Mix" / "wav16k" / "min", RATE, "min")
        assert out.name == f"mixture_{tag}_mix_clean.csv"
        rows += entries
    split = type(libri)(eval_seconds=None).open("test", tmp_path)
    s = split.sources(0).numpy()
    assert s.shape == (2, int(0.5 * RATE))  # min mode: the shorter utterance
    expected = h.tone(0.7, RATE, 300)[: s.shape[1]] * 0.5
    assert np.allclose(s[0], expected, atol=1e-4)
    mix = split.root / "test" / "mix_clean" / f"{split.items[0].item_id}.wav"
    import soundfile as sf

    assert np.allclose(sf.read(str(mix), dtype="float32")[0], s.sum(0), atol=1e-4)  # mix_clean = s1 + s2
