"""`surf-bench launch` with submitit's local executor: a tiny grid, 2 jobs at a time, the remixer
after the MixIT cell it starts from, into the layout the tables read."""

import json

import pytest
import yaml

from surf_bench import cli
from surf_bench.errors import SurfBenchError
from surf_bench.orchestration.launch import launch

pytest.importorskip("submitit")
TINY = {"train.steps": 4, "net.channels": 4, "net.time_dim": 8, "train.batch_size": 4, "eval.n_items": 8,
        "eval.batch_size": 8, "eval.bootstrap": 20}


def grid(tmp_path, **extra):
    params = {"preset": "smoke", "datasets": ["mnist2-mini"], "methods": ["remixit", "pit"], "seeds": [0],
              "split": "valid", "set": TINY, "out": str(tmp_path / "results"), **extra}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_local_launch_runs_every_cell_in_dependency_order(tmp_path, capsys):
    path = grid(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main(["launch", "--params", str(path), "--executor", "local", "--max-parallel", "2"])
    assert info.value.code == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "results" / "launch" / "grid" / "launch.json").read_text())["cells"]
    by_cell = {v["cell"].split()[0]: v for v in record.values()}
    assert set(by_cell) == {"mixit@mnist2-mini", "remixit@mnist2-mini", "pit@mnist2-mini"}
    assert all(v["state"] == "done" for v in by_cell.values())
    assert by_cell["remixit@mnist2-mini"]["started"] >= by_cell["mixit@mnist2-mini"]["finished"]
    assert by_cell["pit@mnist2-mini"]["started"] < by_cell["mixit@mnist2-mini"]["finished"]  # 2 at a time
    cells = tmp_path / "results" / "mnist2-mini"
    for method in ("remixit", "pit"):
        (folder,) = (cells / method / "smoke").glob("v-*/seed0")  # named by the TINY settings
        score = json.loads((folder / "metrics.valid.json").read_text())
        assert score["provenance"]["threads"] == 1  # cores / max_parallel on 2 cores
        assert by_cell[f"{method}@mnist2-mini"]["metrics"]["psnr"] == pytest.approx(score["metrics"]["psnr"])
    assert len(list((cells / "mixit" / "smoke").glob("v-*/seed0/model.pt"))) == 1
    # Launching again reuses every finished cell.
    again = launch(path, "local", max_parallel=2, log=lambda *_: None)
    assert all(v["state"] == "done" for v in again.values())


def test_a_failed_cell_is_reported_and_the_cells_that_start_from_it_are_skipped(tmp_path):
    empty = tmp_path / "no-mnist"  # mnist2 without its files: the MixIT job fails when it opens the data
    empty.mkdir()
    path = grid(tmp_path, datasets=["mnist2"], methods=["remixit"], set={**TINY, "data.root": str(empty)})
    with pytest.raises(SurfBenchError, match="2 of 2 cells did not finish"):
        launch(path, "local", max_parallel=2, poll_seconds=0.5, log=lambda *_: None)
    record = json.loads((tmp_path / "results" / "launch" / "grid" / "launch.json").read_text())["cells"]
    states = {v["cell"].split()[0]: v["state"] for v in record.values()}
    assert states == {"mixit@mnist2": "failed", "remixit@mnist2": "skipped"}
    failed = next(v for v in record.values() if v["state"] == "failed")
    assert "mnist2" in failed["error"] and failed["log"].endswith(".err")


@pytest.mark.parametrize("argv, message", [
    (["launch"], "launch needs --params FILE"),
    (["launch", "--pipeline", "--executor", "slurm"], "drop --executor and --out"),
])
def test_launch_usage_errors_name_the_way_forward(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_launch_pipeline_outside_the_repository_root_says_where_to_run_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no dvc.yaml here
    with pytest.raises(SystemExit) as info:
        cli.main(["launch", "--pipeline"])
    assert info.value.code == 2 and "run it in the repository root" in capsys.readouterr().err
