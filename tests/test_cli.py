"""The command line as a user runs it (subprocesses of the installed console script)."""

import json
import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "2"}


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "surf_bench.cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


def test_methods_and_datasets_list_one_line_each():
    out = cli("methods").stdout.splitlines()
    names = {line.split()[0] for line in out}
    assert {"pit", "floss", "mixit", "remixit", "self_remixing", "surf_rm", "surf_sr"} <= names
    assert any("unsupervised" in line and line.startswith("surf_sr") for line in out)
    datasets = cli("datasets").stdout
    assert "mnist2-mini" in datasets and "offline" in datasets


@pytest.mark.parametrize("args, fragment", [
    (["run", "--method", "surf_sx", "--dataset", "mnist2-mini"], "Did you mean 'surf_sr'"),
    (["run", "--method", "pit", "--dataset", "mnist-mini"], "unknown dataset 'mnist-mini'"),
    (["run", "--method", "pit", "--dataset", "mnist2-mini", "--preset", "huge"], "unknown preset 'huge'"),
    (["run", "--method", "pit", "--dataset", "mnist2-mini", "--set", "train.step=3"], "Did you mean 'train.steps'"),
    (["run", "--method", "pit", "--dataset", "mnist2-mini", "--set", "train.steps=abc"], "expected int"),
    (["run", "--method", "pit", "--dataset", "mnist2-mini", "--set", "trainsteps"], "key=value"),
])
def test_bad_names_exit_2_with_one_line(args, fragment):
    result = cli(*args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_smoke_run_writes_results_above_the_mixture_baseline(tmp_path):
    result = cli("run", "--method", "pit", "--dataset", "mnist2-mini", "--preset", "smoke", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    cell = tmp_path / "mnist2-mini" / "pit" / "smoke" / "default" / "seed0"
    metrics = json.loads((cell / "metrics.json").read_text())
    for key in ("method", "dataset", "preset", "seed", "metrics", "baseline", "provenance"):
        assert key in metrics
    for key in ("config_hash", "code", "packages", "device", "wall_seconds"):
        assert key in metrics["provenance"]
    assert metrics["metrics"]["psnr"] > metrics["baseline"]["psnr"]
    low, high = metrics["metrics"]["psnr_ci95"]
    assert low <= metrics["metrics"]["psnr"] <= high
    items = (cell / "items.csv").read_text().splitlines()
    assert items[0].startswith("item,psnr") and len(items) == 1 + metrics["n_items"]
    again = cli("run", "--method", "pit", "--dataset", "mnist2-mini", "--preset", "smoke", "--out", str(tmp_path))
    assert "already finished" in again.stderr
    assert json.loads((cell / "metrics.json").read_text()) == metrics


def test_flow_run_writes_the_nfe_curve(tmp_path):
    result = cli("run", "--method", "floss", "--dataset", "mnist2-mini", "--preset", "smoke", "--out", str(tmp_path),
                 "--set", "flow.nfe_curve=1,3")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "mnist2-mini/floss/smoke/default/seed0/metrics.json").read_text())
    assert [row["nfe"] for row in metrics["nfe_curve"]] == [1, 3, 2]
    assert metrics["nfe"] == 2


def test_rescore_scores_the_same_model_again_and_keeps_the_old_score(tmp_path):
    base = ["run", "--method", "pit", "--dataset", "mnist2-mini", "--preset", "smoke", "--out", str(tmp_path),
            "--set", "train.steps=4", "--set", "train.threads=1", "--set", "eval.bootstrap=20"]
    assert cli(*base, "--set", "eval.n_items=8").returncode == 0
    (cell,) = [p.parent for p in tmp_path.rglob("model.pt")]
    model = (cell / "model.pt").read_bytes()
    refused = cli(*base, "--set", "eval.n_items=16")
    assert refused.returncode == 2 and "already finished with other settings" in refused.stderr
    done = cli(*base, "--set", "eval.n_items=16", "--rescore")
    assert done.returncode == 0, done.stderr
    assert json.loads((cell / "metrics.json").read_text())["n_items"] == 16
    assert "\x1b" not in done.stderr and "\r" not in done.stderr  # not a terminal: plain lines, no bar
    assert json.loads((cell / "metrics.json.before-rescore").read_text())["n_items"] == 8
    assert (cell / "model.pt").read_bytes() == model  # never retrained
    fresh = cli("run", "--method", "pit", "--dataset", "mnist2-mini", "--preset", "smoke", "--out",
                str(tmp_path / "other"), "--rescore")
    assert fresh.returncode == 2 and "needs a trained cell" in fresh.stderr
    both = cli(*base, "--rescore", "--force")
    assert both.returncode == 2 and "does not go with --force" in both.stderr


def test_the_summary_line_shows_a_metric_that_was_not_computed_as_na():
    from surf_bench.cli import summary_line

    line = summary_line({"method": "floss", "dataset": "mnist2-mini", "preset": "quick", "seed": 0, "split": "valid",
                         "metrics": {"psnr": 19.77, "psnr_ci95": [19.4, 20.2], "lpips": None},
                         "baseline": {"psnr": 14.88, "lpips": None}})
    assert line == "floss on mnist2-mini [quick, seed 0] valid: psnr=19.770 (mixture 14.880)  lpips=n/a (mixture n/a)"
