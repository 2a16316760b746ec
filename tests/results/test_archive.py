"""The score archive: finished cells' score files only, the same tables from the archive as from
the results, and an archived score is never overwritten."""

import json

import numpy as np
import pandas as pd
import pytest

from surf_bench.errors import SurfBenchError
from surf_bench.results import table
from surf_bench.results.archive import archive_scores
from surf_bench.results.reader import collect
from tests.engine.test_reliability import cli_main
from tests.results.test_table import write_cell


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    rng = np.random.default_rng(1)
    for method, level in {"pit": 20.0, "mixit": 17.0, "surf_rm": 18.4}.items():
        write_cell(root, method, 0, level + rng.normal(0, 0.5, 20))
    finished = root / "mnist2-mini" / "pit" / "quick" / "default" / "seed0"
    (finished / "model.pt").write_bytes(b"weights")
    (finished / ".lock").write_bytes(b"")
    (finished / "train_log.csv").write_text("step,loss\n1,0.5\n")
    running = root / "mnist2-mini" / "floss" / "quick" / "default" / "seed0"  # no score yet
    running.mkdir(parents=True)
    (running / "train_log.csv").write_text("step,loss\n1,0.9\n")
    (running / "checkpoint.pt").write_bytes(b"state")
    return root


def test_archive_keeps_scores_only_and_rebuilds_the_same_table(results, tmp_path):
    archive = tmp_path / "archive"
    report = archive_scores(results, archive)
    kept = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
    assert report.cells == 3 and len(report.copied) == 7 == len(kept)
    assert "mnist2-mini/pit/quick/default/seed0/train_log.csv" in kept
    assert not any(name.endswith((".pt", ".lock")) or "/floss/" in name for name in kept)
    before = table.to_markdown(table.leaderboard(collect(results), "main"), "main", "test")
    assert table.to_markdown(table.leaderboard(collect(archive), "main"), "main", "test") == before
    again = archive_scores(results, archive)
    assert again.copied == [] and len(again.unchanged) == 7


def test_a_changed_score_stops_the_archive_before_it_copies_anything(results, tmp_path):
    archive = tmp_path / "archive"
    archive_scores(results, archive)
    score = results / "mnist2-mini" / "mixit" / "quick" / "default" / "seed0" / "metrics.json"
    record = json.loads(score.read_text())
    record["metrics"]["psnr"] += 1.0
    score.write_text(json.dumps(record))
    write_cell(results, "remixit", 0, np.full(20, 19.0))  # a new cell: must not be copied either
    archived = (archive / score.relative_to(results)).read_bytes()
    with pytest.raises(SurfBenchError, match="never|keeps finished scores"):
        archive_scores(results, archive)
    assert (archive / score.relative_to(results)).read_bytes() == archived
    assert not (archive / "mnist2-mini" / "remixit").exists()


def test_cli_archive_and_its_errors(results, tmp_path):
    assert cli_main(["archive", "--root", str(results), "--to", str(tmp_path / "kept")]) == (0, "")
    frame = pd.read_csv(tmp_path / "kept" / "mnist2-mini" / "pit" / "quick" / "default" / "seed0" / "items.csv")
    assert len(frame) == 20
    for args, expect in ((["--root", str(tmp_path / "absent"), "--to", str(tmp_path / "x")], "--root"),
                         (["--root", str(results), "--to", str(results / "inside")], "outside")):
        code, error = cli_main(["archive", *args])
        assert code != 0 and expect in error and "\n" not in error.strip()
    assert not (tmp_path / "x").exists() and not (results / "inside").exists()


def test_a_rerun_that_differs_only_in_wall_time_adds_its_new_scores(results, tmp_path):
    """The same training rerun faster (a new validation score) is archived; a changed loss is not."""
    cell = results / "mnist2-mini" / "pit" / "quick" / "default" / "seed0"
    log = pd.DataFrame({"step": [100, 200], "loss": [0.5, 0.4], "lr": [1e-3, 1e-4], "seconds": [30.0, 60.0]})
    log.to_csv(cell / "train_log.csv", index=False)
    archive = tmp_path / "archive"
    archive_scores(results, archive)
    log.assign(seconds=log["seconds"] / 3).to_csv(cell / "train_log.csv", index=False)
    (cell / "metrics.valid.json").write_text((cell / "metrics.json").read_text())
    report = archive_scores(results, archive)
    kept = archive / cell.relative_to(results)
    assert report.copied == [kept / "metrics.valid.json"]
    assert pd.read_csv(kept / "train_log.csv")["seconds"].equals(log["seconds"])  # the archived log stays
    log.assign(loss=log["loss"] + 1.0).to_csv(cell / "train_log.csv", index=False)
    with pytest.raises(SurfBenchError, match="keeps finished scores"):
        archive_scores(results, archive)
