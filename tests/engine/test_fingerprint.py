"""A reused result is the result of this code and this data (surf_bench/engine/fingerprint.py and the
runner's reuse checks): an edited plugin method, or other data under --data-root, is refused in one
line that says what changed and what to do; an edited comment is not a change."""

import ast
import json
from pathlib import Path

import pytest

from surf_bench import registry
from surf_bench.engine import fingerprint as fingerprint_module
from surf_bench.engine.fingerprint import code_hash, differences, plugin_files
from surf_bench.engine.runner import CellRequest, run_cell
from surf_bench.errors import UsageError

METHOD = '''"""A plugin method for the reuse tests."""

from surf_bench.method import Method


class Shrink(Method):
    name = "shrink"
    description = "one-step estimates pulled to an equal share of the mixture"
    kind = "regression"

    def training_loss(self, batch):
        est = self.regress(self.net, batch.mix, self.n_slots)
        return (est - (batch.mix / self.n_slots).unsqueeze(1)).pow(SCALE).mean()


SCALE = 2
METHOD = Shrink
'''

DATASET = '''"""A plugin dataset whose splits come from the root: n.txt holds the number of test images."""

from pathlib import Path

import torch

from surf_bench.data.base import DatasetAdapter
from surf_bench.data.image_pairs import ImageMixtureSplit


class Folder(DatasetAdapter):
    name = "rootsized"
    modality = "image"
    n_slots = 2

    def open(self, split, root=None, seed=0):
        n = int((Path(root) / "n.txt").read_text()) if split == "test" else 16
        images = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(len(split) + n))
        return ImageMixtureSplit(f"rootsized/{split}", images, 2, 0, "fixed" if split != "train" else "disjoint")


DATASET = Folder()
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    root = tmp_path / "plugins"
    (root / "methods").mkdir(parents=True)
    (root / "datasets").mkdir()
    (root / "methods" / "shrink.py").write_text(METHOD)
    (root / "datasets" / "rootsized.py").write_text(DATASET)
    monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(root))
    registry.reload()
    yield root
    monkeypatch.undo()
    registry.reload()


def data_root(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / f"data{n}"
    folder.mkdir(exist_ok=True)
    (folder / "n.txt").write_text(str(n))
    return folder


def run(out, root, **kwargs):
    request = CellRequest("shrink", "rootsized", "smoke", 0, {"train.steps": 3, "net.channels": 8, "train.threads": 1},
                          out, "cpu", data_root=str(root), **kwargs)
    return run_cell(request, log=lambda *_: None)


def reload_method(plugins, text):
    (plugins / "methods" / "shrink.py").write_text(text)
    registry.reload()


def test_code_hash_ignores_comments_and_docstrings_not_code(tmp_path):
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('"""doc"""\nX = 1  # one\n\n\ndef f():\n    """f"""\n    return X\n')
    b.write_text('"""other doc"""\n# a comment\nX = 1\n\ndef f():\n    return X\n')
    c.write_text('"""doc"""\nX = 2\n\n\ndef f():\n    return X\n')
    assert code_hash(a) == code_hash(b) != code_hash(c)


def test_an_edited_plugin_method_is_not_reused_silently(plugins, tmp_path):
    out, root = tmp_path / "out", data_root(tmp_path, 20)
    first = run(out, root)
    reload_method(plugins, METHOD.replace("# one", "").replace('"""A plugin method', '"""The plugin method'))
    assert run(out, root)["metrics"] == first["metrics"]  # a docstring edit: the same code
    reload_method(plugins, METHOD.replace("SCALE = 2", "SCALE = 4"))
    with pytest.raises(UsageError, match=r"method plugin .*shrink.py changed since.*--force.*--variant.*--rescore"):
        run(out, root)
    with pytest.raises(UsageError, match="changed since"):
        run(out, root, split="valid")  # scoring the old model on another split: refused too
    assert run(out, root, rescore=True)["metrics"]  # the user says only scoring changed: rescored


def test_other_data_under_data_root_is_not_reused_silently(plugins, tmp_path):
    out = tmp_path / "out"
    first = run(out, data_root(tmp_path, 20))
    assert first["n_items"] == 20
    with pytest.raises(UsageError, match=r"test split's data changed since.*--rescore"):
        run(out, data_root(tmp_path, 30))
    again = run(out, data_root(tmp_path, 30), rescore=True)
    assert again["n_items"] == 30


def test_differences_name_what_changed_and_ignore_unrecorded_results():
    old = {"plugins": {"method": {"path": "m.py", "code_hash": "aaaa"}}, "manifests": {"train": "t1", "test": "x"}}
    new = {"plugins": {"method": {"path": "m.py", "code_hash": "bbbb"}}, "manifests": {"train": "t2", "test": "x"}}
    lines = differences(old, new, ("train", "test"))
    assert len(lines) == 2 and "method plugin m.py" in lines[0] and "train split's data" in lines[1]
    assert differences(None, new, ("train",)) == [] and differences(old, old, ("train", "test")) == []


GOLDEN_SOURCE = '''"""doc"""
X = 1


def f(a: int, *, b: dict[str, int] | None = None) -> str:
    """f"""
    d = {"k": a}
    return f"{d['k']!r:>{X}} {a:.2f} {[a + X for _ in range(X)]}"
'''
# code_hash of GOLDEN_SOURCE, the same under Python 3.10, 3.11, 3.12 and 3.13 (checked with each); ast.dump
# and ast.unparse of the same tree differ between 3.11 and 3.12 (f-strings with quotes, type_params).
GOLDEN_HASH = "0c2815337b5a1d9d"


def test_code_hash_is_the_same_under_every_python(tmp_path, monkeypatch):
    """A cell trained on another machine's Python is the same code: the hash writes the tree out field by
    field and never through ast.dump or ast.unparse, whose output changes with the Python version."""
    path = tmp_path / "m.py"
    path.write_text(GOLDEN_SOURCE)

    def refuse(*_, **__):
        raise AssertionError("code_hash must not depend on ast.dump or ast.unparse")

    monkeypatch.setattr(ast, "dump", refuse)
    monkeypatch.setattr(ast, "unparse", refuse)
    assert code_hash(path) == GOLDEN_HASH


def test_a_result_from_another_python_is_reused_when_the_plugin_bytes_are_the_same(plugins, tmp_path):
    """A cell trained elsewhere records its own interpreter's code hash; the same file bytes (sha256) are
    the same code, and a result recorded with the older dump-based hash is recognised too."""
    out, root = tmp_path / "out", data_root(tmp_path, 20)
    first = run(out, root)
    metrics_path = next(out.rglob("metrics.json"))
    record = json.loads(metrics_path.read_text())
    method_entry = record["provenance"]["fingerprint"]["plugins"]["method"]
    method_entry["code_hash"] = "0123456789abcdef"  # as another Python version would have hashed it
    metrics_path.write_text(json.dumps(record))
    assert run(out, root)["metrics"] == first["metrics"]

    path = Path(method_entry["path"])
    method_entry["sha256"] = "0" * 64  # other bytes (a comment edited) ...
    earlier = fingerprint_module._earlier_code_hashes(path)  # ... recorded by an earlier form of the hash
    assert len(earlier) == 2 and code_hash(path) not in earlier
    for recorded in sorted(earlier):
        method_entry["code_hash"] = recorded
        metrics_path.write_text(json.dumps(record))
        assert run(out, root)["metrics"] == first["metrics"]

    method_entry["code_hash"] = "0123456789abcdef"  # other bytes and another code: refused
    metrics_path.write_text(json.dumps(record))
    with pytest.raises(UsageError, match="method plugin .*shrink.py changed since"):
        run(out, root)


def test_plugin_files_record_bytes_and_code(plugins):
    entry = plugin_files("shrink", "rootsized")["method"]
    assert entry["sha256"] and len(entry["code_hash"]) == 16 and entry["path"].endswith("shrink.py")
