"""Own data with no code (surf_bench/data/folders.py): a folder of WAVs runs through audio-folder in
each documented layout, with the item length as a setting; images through image-folder."""

import numpy as np
import pytest
import torch

from surf_bench import registry
from surf_bench.data.audio_io import write_audio
from surf_bench.engine.runner import CellRequest, run_cell
from surf_bench.errors import DataError

RATE = 16000


def tone(g, seconds=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * g.uniform(100, 3000) * t)).astype(np.float32)


def own_audio(root, train_layout):
    g = np.random.default_rng(0)
    for i in range(3):  # layout 1 for test: the sources of every item
        for k in (1, 2):
            write_audio(root / "test" / f"clip{i}" / f"s{k}.wav", tone(g, 0.4 + 0.1 * k), RATE)
    if train_layout == "sources":  # layout 3: single sources mixed once by the recipe
        for j in range(8):
            write_audio(root / "sources" / "train" / f"src{j}.wav", tone(g), RATE)
    else:  # layout 2: mixtures only
        for j in range(4):
            write_audio(root / "train" / f"mix{j}.wav", tone(g) + tone(g), RATE)
    return root


def run(method, root, out, **overrides):
    request = CellRequest(method, "audio-folder", "smoke", 0, {"train.steps": 2, "train.threads": 1,
                                                               "eval.sdr_items": 0, "eval.pesq_items": 0, **overrides},
                          out, "cpu", data_root=str(root))
    return run_cell(request, log=lambda *_: None)


def test_a_folder_of_sources_trains_and_scores_with_the_documented_command(tmp_path):
    root = own_audio(tmp_path / "mine", "sources")
    record = run("pit", root, tmp_path / "out", **{"data.seconds": 0.25})
    assert record["n_items"] == 3 and record["train"]["train_mixtures"] == 4
    adapter = registry.get_dataset("audio-folder")
    assert adapter.open("test", root, seconds=0.25).spec.item_shape == (4000,)
    assert adapter.open("test", root).spec.item_shape == (4 * RATE,)  # the default, 4 s, padded
    manifest = record["provenance"]["test_manifest_hash"]
    assert adapter.open("test", root, seconds=0.25).manifest_hash() == manifest
    (root / "test" / "clip0").rename(root / "test" / "clip9")  # other items: another manifest
    assert adapter.open("test", root, seconds=0.25).manifest_hash() != manifest


def test_mixtures_only_train_unsupervised_methods_and_refuse_supervised_ones(tmp_path):
    root = own_audio(tmp_path / "mine", "mixtures")
    assert run("mixit", root, tmp_path / "out", **{"data.seconds": 0.25})["method"] == "mixit"
    with pytest.raises(DataError, match="mixtures only .*layout 1"):
        run("pit", root, tmp_path / "out", **{"data.seconds": 0.25})


def test_a_folder_without_a_known_layout_or_root_is_one_line(tmp_path):
    adapter = registry.get_dataset("audio-folder")
    with pytest.raises(DataError, match="give the folder of your data with --data-root"):
        adapter.open("train", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no .*train/<item>/s1.wav"):
        adapter.open("train", tmp_path / "empty")
    (tmp_path / "bad" / "test" / "clip0").mkdir(parents=True)
    write_audio(tmp_path / "bad" / "test" / "clip0" / "s1.wav", np.zeros(100, np.float32), RATE)
    with pytest.raises(DataError, match=r"expected s1.wav ... s2.wav \(K = 2 sources\), found s1.wav"):
        adapter.open("test", tmp_path / "bad")


def test_image_folders_mix_k_images_and_refuse_mixed_sizes(tmp_path):
    image = pytest.importorskip("PIL.Image")
    g = np.random.default_rng(0)
    for split, n in (("train", 6), ("valid", 4), ("test", 4)):
        (tmp_path / split).mkdir()
        for i in range(n):
            image.fromarray((g.random((6, 6)) * 255).astype(np.uint8), "L").save(tmp_path / split / f"{i}.png")
    adapter = registry.get_dataset("image-folder")
    train = adapter.open("train", tmp_path)
    assert len(train) == 3 and train.spec.item_shape == (1, 6, 6)
    assert torch.allclose(train.mixtures(torch.arange(3)), train.sources_batch(torch.arange(3)).mean(1))
    image.fromarray(np.zeros((5, 5), np.uint8), "L").save(tmp_path / "test" / "odd.png")
    with pytest.raises(DataError, match="images of different sizes"):
        adapter.open("test", tmp_path)
