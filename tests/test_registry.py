"""Plugin isolation (surf_bench/registry.py): a plugin file that fails to load is reported once
(file, line, error) and skipped, so commands that do not need it still work; two plugins with one
name are an error for that name only; a plugin folder may hold helper modules its plugins import."""

import pytest

from surf_bench import registry
from surf_bench.errors import UsageError

GOOD = '''from surf_bench.method import Method

from ._shared import LOSS_POWER


class {cls}(Method):
    name = "{name}"
    description = "a plugin that imports a helper module beside it"
    kind = "regression"

    def training_loss(self, batch):
        return self.regress(self.net, batch.mix, self.n_slots).abs().pow(LOSS_POWER).mean()


METHOD = {cls}
'''


@pytest.fixture
def plugin_root(tmp_path, monkeypatch):
    root = tmp_path / "plugins"
    (root / "methods").mkdir(parents=True)
    (root / "methods" / "_shared.py").write_text("LOSS_POWER = 2\n")
    monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(root))
    registry.reload()
    yield root / "methods"
    monkeypatch.undo()
    registry.reload()


def test_a_broken_plugin_is_reported_once_and_skipped(plugin_root, capsys):
    (plugin_root / "typo.py").write_text("from surf_bench.method import Method\n\nx = (\n")
    (plugin_root / "helper_user.py").write_text(GOOD.format(cls="Helped", name="helped"))
    assert registry.get_method("pit").name == "pit"  # the built-ins still load
    assert registry.get_method("helped").name == "helped"  # `from ._shared import ...` works
    warned = capsys.readouterr().err
    assert warned.count("warning:") == 1 and "typo.py:3: SyntaxError" in warned
    registry.get_method("floss")
    assert "typo.py" not in capsys.readouterr().err  # once, not at every lookup
    with pytest.raises(UsageError, match=r"unknown method 'typo'.*skipped plugin files: .*typo.py:3: SyntaxError"):
        registry.get_method("typo")


def test_a_name_two_plugins_claim_is_an_error_for_that_name_only(plugin_root):
    (plugin_root / "one.py").write_text(GOOD.format(cls="One", name="twin"))
    (plugin_root / "two.py").write_text(GOOD.format(cls="Two", name="twin"))
    (plugin_root / "pit_again.py").write_text(GOOD.format(cls="PitAgain", name="pit"))
    with pytest.raises(UsageError, match=r"two method plugins are named 'twin' \(.*one.py, .*two.py\)"):
        registry.get_method("twin")
    with pytest.raises(UsageError, match="two method plugins are named 'pit'"):
        registry.get_method("pit")
    assert registry.get_method("floss").name == "floss"


def test_a_broken_plugin_leaves_a_run_of_a_built_in_method_working(plugin_root, tmp_path):
    from surf_bench.engine.runner import CellRequest, run_cell

    (plugin_root / "broken.py").write_text("raise RuntimeError('half-written plugin')\n")
    record = run_cell(CellRequest("pit", "mnist2-mini", "smoke", 0, {"train.steps": 2, "train.threads": 1},
                                  tmp_path / "out", "cpu"), log=lambda *_: None)
    assert record["method"] == "pit"
