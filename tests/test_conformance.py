"""Conformance of every registered plugin, in the spirit of ``benchopt test``: the tests are
parametrised over ``registry.methods()`` and ``registry.datasets()`` at collection time, so a new
plugin file (in ``methods/``, ``datasets/`` or on ``SURF_BENCH_PLUGIN_PATH``) is checked without
editing any test. The checks live in surf_bench/conformance.py (``surf-bench check`` runs them
too); the contracts are those of docs/plugins.md."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from surf_bench import registry
from surf_bench.conformance import (
    ConformanceError,
    Skipped,
    check_dataset,
    check_declaration,
    check_method,
    check_regression_ignores_flow_settings,
)
from surf_bench.method import Method

METHOD_CASES = [(name, modality) for name, cls in sorted(registry.methods().items()) for modality in cls.modalities]
DATASETS = sorted(registry.datasets())


@pytest.mark.parametrize("name,modality", METHOD_CASES, ids=[f"{n}-{m}" for n, m in METHOD_CASES])
def test_method_conforms(name, modality, tmp_path):
    check_method(registry.get_method(name), modality, tmp_path)


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_conforms(name, tmp_path):
    try:
        check_dataset(registry.get_dataset(name), tmp_path / name)
    except Skipped as exc:
        pytest.skip(str(exc))


# --- a plugin on SURF_BENCH_PLUGIN_PATH is covered with no test edited ------------------------
TOY_NAME = "toy_conformance"
TOY_METHOD = f'''"""A toy regression plugin for the conformance tests."""

from surf_bench.method import Method


class Toy(Method):
    name = "{TOY_NAME}"
    description = "toy: one-step estimates pulled to an equal share of the mixture (MSE)"
    kind = "regression"

    def training_loss(self, batch):
        est = self.regress(self.net, batch.mix, self.n_slots)
        share = (batch.mix / self.n_slots).unsqueeze(1)
        return (est - share).pow(2).mean()


METHOD = Toy
'''


def write_toy_plugin(root: Path) -> Path:
    (root / "methods").mkdir(parents=True)
    (root / "methods" / f"{TOY_NAME}.py").write_text(TOY_METHOD)
    return root


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    root = write_toy_plugin(tmp_path / "plugins")
    monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(root))
    registry.reload()
    yield root
    monkeypatch.undo()
    registry.reload()


def test_plugin_method_on_the_plugin_path_conforms(toy_plugin, tmp_path):
    cls = registry.get_method(TOY_NAME)
    assert set(registry.methods()) > {TOY_NAME}  # the project's methods are still there
    for modality in cls.modalities:
        check_method(cls, modality, tmp_path / modality)


def test_collection_picks_up_plugins(tmp_path):
    root = write_toy_plugin(tmp_path / "plugins")
    env = {**os.environ, "SURF_BENCH_PLUGIN_PATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", __file__],  # -q: addopts
        cwd=registry.PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"test_method_conforms[{TOY_NAME}-image]" in out.stdout
    assert f"test_method_conforms[{TOY_NAME}-audio]" in out.stdout


# --- a regression method that reads a flow's training setting breaks the contract ---------------
class FlowReadingToy(Method):
    """A 'regression' method whose loss weighs items by flow.level_norm: it does read a flow setting."""

    name = "flow_reading_toy"
    kind = "regression"
    modalities = ("audio",)

    def training_loss(self, batch):
        est = self.regress(self.net, batch.mix, self.n_slots)
        share = (batch.mix / self.n_slots).unsqueeze(1)
        error = (est - share).pow(2).flatten(1).mean(1)
        weights = self.loss_weights(batch.mix)
        return error.mean() if weights is None else (error * weights).mean()


def test_a_regression_method_that_reads_flow_settings_fails(tmp_path):
    with pytest.raises(ConformanceError, match="changed with flow settings"):
        check_regression_ignores_flow_settings(FlowReadingToy, "audio", tmp_path)


def test_an_unknown_kind_fails():
    class NoKind(FlowReadingToy):
        kind = "diffusion"

    with pytest.raises(ConformanceError, match="kind must be one of"):
        check_declaration(NoKind)
