"""Reuse of a finished cell when a flow setting moves (runner.py with method.reads_setting;
docs/architecture.md, "Reuse"): a regression cell does not read it and is reused, a flow cell is
refused."""

from __future__ import annotations

import json

from tests.engine.test_reliability import TINY, cli_main, make_mnist_root
from tests.engine.test_reliability import cell as tiny_cell


def test_a_moved_flow_setting_reuses_regression_cells_and_refuses_flow_cells(tmp_path):
    data = make_mnist_root(tmp_path / "mnist")
    out = tmp_path / "results"

    def run(method, level_norm, *extra):
        return cli_main(["run", "-m", method, "-d", "mnist2", "--data-root", str(data), "--out", str(out), *TINY,
                         "--variant", "moved", "--set", f"flow.level_norm={level_norm}", *extra])

    for method in ("pit", "floss"):
        code, err = run(method, "false")
        assert code == 0, err
    pit = out / "mnist2" / "pit" / "smoke" / "moved" / "seed0"
    model = (pit / "model.pt").read_bytes()

    code, err = run("pit", "true")
    assert code == 0 and "already finished" in err, err
    code, err = run("pit", "true", "--split", "valid")  # model.pt scored on another split, not retrained
    assert code == 0, err
    assert (pit / "metrics.valid.json").exists() and (pit / "model.pt").read_bytes() == model
    provenance = json.loads((pit / "metrics.valid.json").read_text())["provenance"]
    assert provenance["config"]["flow"]["level_norm"] is True  # what was asked for
    assert provenance["train_config"]["flow"]["level_norm"] is False  # what the model was trained with
    assert "train_config" not in json.loads((pit / "metrics.json").read_text())["provenance"]

    code, err = run("floss", "true")
    assert code == 2 and "already finished with other settings (flow.level_norm: False -> True)" in err, err
    code, err = run("floss", "true", "--split", "valid")
    assert code == 2 and "was trained with other settings (flow.level_norm: False -> True)" in err, err


def test_a_flow_model_is_scored_at_another_nfe_without_training_again(tmp_path):
    data = make_mnist_root(tmp_path / "mnist")
    out = tmp_path / "results"
    run = ["run", "-m", "floss", "-d", "mnist2", "--data-root", str(data), "--out", str(out), *TINY]
    code, err = cli_main(run)
    assert code == 0, err
    cell = tiny_cell(out, "floss")
    model = (cell / "model.pt").read_bytes()
    code, err = cli_main([*run, "--set", "flow.nfe=3"])  # the finished score: refused, naming the setting
    assert code == 2 and "flow.nfe: 2 -> 3" in err, err
    code, err = cli_main([*run, "--set", "flow.nfe=3", "--rescore"])  # model.pt scored again, not retrained
    assert code == 0, err
    assert json.loads((cell / "metrics.json").read_text())["nfe"] == 3 and (cell / "model.pt").read_bytes() == model


def test_a_flow_setting_names_a_new_variant_for_flow_methods_only(tmp_path):
    """Without --variant, a setting the method does not read (a flow setting on pit) names no new `v-`
    folder: the cell is reused; on floss the same setting is a new variant."""
    data = make_mnist_root(tmp_path / "mnist")
    out = tmp_path / "results"

    def run(method, *extra):
        return cli_main(["run", "-m", method, "-d", "mnist2", "--data-root", str(data), "--out", str(out), *TINY,
                         *extra])

    for method in ("pit", "floss"):
        code, err = run(method)
        assert code == 0, err
        code, err = run(method, "--set", "flow.t0_prob=0.5")
        assert code == 0, err
    assert len(list((out / "mnist2" / "pit" / "smoke").iterdir())) == 1  # TINY's own variant, reused
    assert len(list((out / "mnist2" / "floss" / "smoke").iterdir())) == 2
    code, err = run("pit", "--set", "net.channels=6")  # a setting pit reads: its own variant
    assert code == 0, err
    assert len(list((out / "mnist2" / "pit" / "smoke").iterdir())) == 2
