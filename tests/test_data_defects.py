"""Bad data of a researcher's own, each one line before any training (issue "trust and plugins"):
a NaN in the scored split, items of unequal length, a file an own adapter cannot read (no "fetch
it again" advice for data that has no downloader), and no empty folders left by a failed run."""

import pytest
import torch

from surf_bench import registry
from surf_bench.data.base import DataSpec, SourceSplit
from surf_bench.engine.runner import CellRequest, run_cell
from surf_bench.errors import DataError

DATASET = '''"""An own audio dataset whose test split is broken in one way (BREAK)."""

import torch

from surf_bench.data.base import DatasetAdapter, DataSpec, SourceSplit


class Split(SourceSplit):
    def __init__(self, split):
        g = torch.Generator().manual_seed(len(split))
        self._sources = [0.1 * torch.randn(2, 1600, generator=g) for _ in range(8)]
        if split == "test" and BREAK == "nan":
            self._sources[5][1, 7] = float("nan")
        self.spec = DataSpec(f"owndata/{split}", "audio", 2, (1600,), "sum", 16000)

    def __len__(self):
        return 8

    def item_ids(self):
        return [f"clip{i}" for i in range(8)]

    def mixture(self, i):
        return self._sources[i].sum(0)

    def sources(self, i):
        return self._sources[i]


class Own(DatasetAdapter):
    name, modality, n_slots = "owndata", "audio", 2

    def open(self, split, root=None, seed=0):
        if BREAK == "unreadable":
            raise ValueError("bad header in clip3.wav")
        return Split(split)


BREAK = "{kind}"
DATASET = Own()
'''


@pytest.fixture
def own_data(tmp_path, monkeypatch):
    def install(kind):
        root = tmp_path / f"plugins-{kind}"
        (root / "datasets").mkdir(parents=True)
        (root / "datasets" / "owndata.py").write_text(DATASET.replace("{kind}", kind))
        monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(root))
        registry.reload()

    yield install
    monkeypatch.undo()
    registry.reload()


def run(out):
    request = CellRequest("pit", "owndata", "smoke", 0, {"train.steps": 2, "train.threads": 1}, out, "cpu")
    return run_cell(request, log=lambda *_: None)


def test_a_nan_in_the_scored_split_is_found_before_training(own_data, tmp_path):
    own_data("nan")
    with pytest.raises(DataError, match="owndata/test: item clip5 has NaN or infinite mixture"):
        run(tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.pt"))


def test_a_failed_run_leaves_no_empty_folders(own_data, tmp_path):
    own_data("nan")
    out = tmp_path / "out"
    with pytest.raises(DataError):
        run(out)
    assert not out.exists() or not any(out.iterdir()), list(out.rglob("*"))


def test_own_unreadable_data_is_not_told_to_fetch_again(own_data, tmp_path):
    own_data("unreadable")
    with pytest.raises(DataError, match=r"could not be read \(ValueError: bad header in clip3.wav\); check them$"):
        run(tmp_path / "out")


def test_items_of_unequal_length_name_the_items():
    class Ragged(SourceSplit):
        spec = DataSpec("ragged/test", "audio", 2, (None,), "sum", 16000)

        def __len__(self):
            return 3

        def item_ids(self):
            return ["a", "b", "c"]

        def mixture(self, i):
            return torch.zeros(100 + 10 * i)

        def sources(self, i):
            return torch.zeros(2, 100 + 10 * i)

    with pytest.raises(DataError, match=r"ragged/test: items of one batch have mixture of different shapes "
                                        r"\(a: \[100\]; b: \[110\]; c: \[120\]\)"):
        Ragged().mixtures(torch.arange(3))
