"""librifuss2 on a small LibriSpeech + FUSS fsd_data (or FSD50K) tree in the published layouts."""

import numpy as np
import pytest
import torch

from surf_bench import registry
from surf_bench.errors import DataError

RATE = 16000
CHUNK = 0.3


def make_librispeech(root, h, rate=RATE):
    # utterances of 0.5, 0.4 and 0.2 s: the 0.2 s one is shorter than a chunk, skipped
    registry.get_dataset("librifuss2").write_librispeech_example(root, rate)


def make_fsd_data(root, h):
    registry.get_dataset("librifuss2").write_fsd_data_example(root)


@pytest.fixture
def lf(adapter):
    return type(adapter("librifuss2"))(chunk_seconds=CHUNK)


def test_manifest_on_disk_snr_and_hash(tmp_path, h, lf):
    make_librispeech(tmp_path, h)
    make_fsd_data(tmp_path, h)
    test = lf.open("test", tmp_path)
    manifest = lf.manifest_path(tmp_path, "test")
    assert manifest.is_file() and len(test) == 4  # 2 speakers x 2 long-enough utterances
    assert (
        test.spec.item_shape == (int(CHUNK * RATE),) and test.spec.n_slots == 2 and test.spec.mixing == "sum"
    )
    src = test.sources_batch(torch.arange(4))
    assert torch.equal(test.mixtures(torch.arange(4)), src.sum(1))
    for item, pair in zip(test.items, src.numpy(), strict=True):
        active = pair[1][: np.count_nonzero(pair[1])]
        snr = 10 * np.log10(np.sum(pair[0] ** 2) / np.sum(pair[1] ** 2))
        assert abs(snr - item.snr_db) < 0.01 and -5 <= item.snr_db <= 5 and len(active) > 0
    before = test.manifest_hash()
    manifest_text = manifest.read_text()
    manifest.unlink()
    again = lf.open("test", tmp_path, seed=9)
    assert again.manifest_hash() == before and manifest.read_text() == manifest_text


def test_fsd50k_voice_filter_and_resampling(tmp_path, h, lf):
    make_librispeech(tmp_path, h)
    for i in range(3):
        h.write(tmp_path / "FSD50K.eval_audio" / f"{i}.wav", h.tone(0.5, 44100, 3000, seed=i), 44100)
    truth = tmp_path / "FSD50K.ground_truth"
    truth.mkdir()
    (truth / "eval.csv").write_text(
        'fname,labels,mids\n0,Bark,/m/05tny_\n1,"Speech,Human_voice",/m/09x0r\n2,"Rain,Water",/m/06mb1\n'
    )
    test = lf.open("test", tmp_path)
    assert {item.slots[1].path for item in test.items} <= {
        "FSD50K.eval_audio/0.wav",
        "FSD50K.eval_audio/2.wav",
    }
    assert test.sources(0).shape == (2, int(CHUNK * RATE))


def test_errors_missing_wrong_rate_empty(tmp_path, h, lf):
    (tmp_path / "r").mkdir()
    with pytest.raises(DataError, match="LibriSpeech"):
        lf.open("test", tmp_path / "r")
    make_librispeech(tmp_path, h)
    with pytest.raises(DataError, match="no environmental sounds"):
        lf.open("test", tmp_path)
    make_fsd_data(tmp_path, h)
    bad = tmp_path / "LibriSpeech" / "dev-clean" / "19" / "198" / "19-198-0000.flac"
    h.write(bad, h.tone(0.5, 8000), 8000)
    with pytest.raises(DataError, match="19-198-0000.flac.*8000 Hz"):
        lf.open("valid", tmp_path)
    for path in (tmp_path / "LibriSpeech" / "train-clean-100").rglob("*.flac"):
        h.write(path, h.tone(0.1, RATE), RATE)
    with pytest.raises(DataError, match="empty split"):
        lf.open("train", tmp_path)


def test_corrupt_file_named(tmp_path, h, lf):
    make_librispeech(tmp_path, h)
    make_fsd_data(tmp_path, h)
    test = lf.open("test", tmp_path)
    victim = tmp_path / test.items[0].slots[0].path
    h.truncate(victim, 0.4)  # a FLAC header still says full length: caught when decoded
    with pytest.raises(DataError, match=f"{victim.name}.*corrupt or truncated"):
        lf.open("test", tmp_path).sources_batch(torch.arange(len(test)))
