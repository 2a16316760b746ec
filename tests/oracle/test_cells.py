"""The oracle sets end to end, as a user runs them: a flow cell on gmm2 writes the oracle metrics
(at every NFE of its curve) and the reference rows, the table prints them, and a plugin method that
samples the exact posterior scores as the exact-sample row."""

import json

import pytest

from surf_bench import registry
from surf_bench.engine.runner import CellRequest, run_cell
from surf_bench.results import table
from surf_bench.results.reader import collect

pytest.importorskip("mlxtend")
pytest.importorskip("ot")

SAMPLER = '''"""Test-only: separates by one exact posterior sample of the dataset's own prior."""

import torch

from surf_bench import registry
from surf_bench.method import Method


class PosteriorSampler(Method):
    name = "posterior_sampler"
    description = "exact posterior samples of an oracle set (tests only)"
    kind = "regression"
    modalities = ("image",)

    def training_loss(self, batch):
        return self.regress(self.net, batch.mix, self.n_slots).pow(2).mean()

    def separate(self, mix, nfe=None, generator=None):
        adapter = registry.get_dataset(self.spec.name.split("/")[0])
        posterior = adapter.open("test").exact_posterior()
        draw = posterior.sample(mix.double().flatten(1), 1, generator or self.generator)[:, 0]
        return draw.float().view(len(mix), self.n_slots, *self.spec.item_shape)


METHOD = PosteriorSampler
'''


def run(method, out, **overrides):
    request = CellRequest(method, "gmm2", "smoke", 0, {"train.steps": 20, "train.threads": 1, **overrides}, out,
                          "cpu")
    return run_cell(request, log=lambda *_: None)


def test_a_flow_cell_on_gmm2_writes_the_oracle_metrics_and_rows(tmp_path):
    record = run("floss", tmp_path)
    written = json.loads((tmp_path / "gmm2" / "floss" / "smoke" / record["variant"] / "seed0" /
                          "metrics.json").read_text())
    for name in ("mmse_gap_db", "spread_ratio", "posterior_sw"):
        assert name in written["metrics"] and name in written["baseline"]
        assert all(name in point for point in written["nfe_curve"])
    assert set(written["references"]) == {"bayes_mean", "posterior_sample"}
    refs = written["references"]
    assert refs["bayes_mean"]["psnr"] > refs["posterior_sample"]["psnr"] > written["baseline"]["psnr"]
    rows = table.leaderboard(collect(tmp_path), "main", variant=None)
    assert {"Bayes posterior mean", "exact posterior sample", "mixture"} <= set(rows["method"])
    assert {"psnr", "mmse_gap_db", "spread_ratio", "posterior_sw"} <= set(rows["metric"])


@pytest.fixture
def sampler_plugin(tmp_path, monkeypatch):
    root = tmp_path / "plugins"
    (root / "methods").mkdir(parents=True)
    (root / "methods" / "posterior_sampler.py").write_text(SAMPLER)
    monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(root))
    registry.reload()
    yield
    monkeypatch.undo()
    registry.reload()


def test_a_plugin_that_samples_the_exact_posterior_scores_as_the_sample_row(sampler_plugin, tmp_path):
    record = run("posterior_sampler", tmp_path, **{"eval.n_items": 300, "eval.batch_size": 100})
    metrics, sample_row = record["metrics"], record["references"]["posterior_sample"]
    assert metrics["spread_ratio"] == pytest.approx(1.0, abs=0.12)
    assert metrics["psnr"] == pytest.approx(sample_row["psnr"], abs=0.4)
    assert metrics["mmse_gap_db"] == pytest.approx(sample_row["mmse_gap_db"], abs=0.4)
    assert metrics["posterior_sw"] < 0.6 * record["references"]["bayes_mean"]["posterior_sw"]
