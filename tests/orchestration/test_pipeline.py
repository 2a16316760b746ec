"""The main job: `dvc repro` builds every cell and the tables; a second run does nothing; changing
one method's settings re-runs only that method's cells, the cells that start from them, and the
tables. Runs the repository's own dvc.yaml on a tiny grid in a scratch copy of the repository."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from surf_bench import registry

REPO = Path(__file__).resolve().parents[2]
TINY = {"train.steps": 4, "net.channels": 4, "net.time_dim": 8, "train.batch_size": 4, "eval.n_items": 8,
        "eval.bootstrap": 20, "train.threads": 1}
pytestmark = pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is not installed (the dev extra has it)")


def sh(*args, cwd):
    result = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def ran(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


SCRATCH, REMIX = ["pit", "floss"], ["remixit", "self_remixing", "surf_rm", "surf_sr"]


def scratch_repo(root: Path, scratch: list[str] = SCRATCH, remix: list[str] = REMIX) -> Path:
    """A copy of the repository's pipeline with a tiny smoke grid on mnist2-mini, committed to git;
    `scratch` and `remix` narrow dvc.yaml's method lists (the launcher tests need fewer cells)."""
    for name in ("surf_bench", "methods", "datasets"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".dvcignore", root / ".dvcignore")
    pipeline = (REPO / "dvc.yaml").read_text()
    for full, narrow in ((SCRATCH, scratch), (REMIX, remix)):
        line = f"method: [{', '.join(full)}]"
        assert pipeline.count(line) == 1, f"dvc.yaml no longer lists {line}"
        pipeline = pipeline.replace(line, f"method: [{', '.join(narrow)}]")
    (root / "dvc.yaml").write_text(pipeline)
    (root / ".dvc").mkdir()
    shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["preset"] == "short" and params["seeds"] == [0]  # the README's main job
    assert {"gmm2", "mnist2-mini"} <= set(params["datasets"])
    params.update(preset="smoke", datasets=["mnist2-mini"], set=TINY)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / ".gitignore").write_text("results/\n")
    sh("git", "init", "-q", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", cwd=root)
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return scratch_repo(tmp_path_factory.mktemp("pipeline"))


def test_dvc_repro_builds_the_tables_and_reruns_only_what_changed(repo):
    first = ran(sh("dvc", "repro", cwd=repo))
    assert "mixit@mnist2-mini-0" in first and "remix@mnist2-mini-surf_sr-0" in first and first[-1] == "tables"
    assert len(first) == 1 + 7 + 1 + 1  # prepare, 7 cells, the tune stage (off: it writes empty settings), tables
    order = [first.index(s) for s in ("mixit@mnist2-mini-0", "tune@mnist2-mini", "remix@mnist2-mini-surf_rm-0")]
    assert order == sorted(order)
    tuned = yaml.safe_load((repo / "results" / "tuned" / "mnist2-mini.yaml").read_text())
    assert tuned["enabled"] is False and tuned["settings"]["surf_rm"] == {}
    assert sorted(tuned["settings"]) == sorted(registry.methods())  # an entry for every registered method
    board = (repo / "results" / "leaderboard.md").read_text()
    for method in ("pit", "floss", "mixit", "remixit", "self_remixing", "surf_rm", "surf_sr", "mixture"):
        assert f"| {method} |" in board
    assert "| paper |" in board.splitlines()[0] + " |" and "37.26" in board  # the paper column
    for stem in ("leaderboard", "ablation", "paired"):
        for suffix in ("csv", "md", "tex"):
            assert (repo / "results" / f"{stem}.{suffix}").stat().st_size > 0
    assert "surf_rm" in (repo / "results" / "paired.csv").read_text()
    page = (repo / "results" / "report.html").read_text()
    assert 'class="leaderboard"' in page and page.count("grid.png") == 0  # assets inline, no file links
    assert page.count("alt=\"") >= 7 + 7  # a grid and a training curve per method
    assert ran(sh("dvc", "repro", cwd=repo)) == []  # nothing changed: nothing runs (figures included)
    metrics = sh("dvc", "metrics", "show", cwd=repo)
    assert "surf_rm" in metrics and "psnr" in metrics

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["settings"]["mixit"] = {"train.lr": 0.004}  # mixit: its cell and the 4 that start from it
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    second = ran(sh("dvc", "repro", cwd=repo))
    assert sorted(second) == sorted(["mixit@mnist2-mini-0", "tune@mnist2-mini", "remix@mnist2-mini-remixit-0",
                                     "remix@mnist2-mini-self_remixing-0", "remix@mnist2-mini-surf_rm-0",
                                     "remix@mnist2-mini-surf_sr-0", "tables"])
    params["settings"]["floss"] = {"flow.sigma": 0.2}  # a method on its own: its cell and the tables
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    # The tune stage reads every method's settings (a tuned method is tuned on top of its own); off, it
    # rewrites the same empty file, so only the changed method's cells run.
    assert sorted(ran(sh("dvc", "repro", cwd=repo))) == ["scratch@mnist2-mini-floss-0", "tables", "tune@mnist2-mini"]
    # What `dvc exp run -S settings.surf_rm.unsup.ema_decay=0.9` writes: a nested mapping.
    params["settings"]["surf_rm"] = {"unsup": {"ema_decay": 0.9}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert sorted(ran(sh("dvc", "repro", cwd=repo))) == ["remix@mnist2-mini-surf_rm-0", "tables", "tune@mnist2-mini"]
    cell = repo / "results" / "cells" / "mnist2-mini" / "surf_rm" / "smoke" / "pipeline" / "seed0" / "metrics.json"
    assert json.loads(cell.read_text())["provenance"]["config"]["unsup"]["ema_decay"] == 0.9

    # The tune stage on: surf_sr's study (2 trials, validation split) sets the alpha its cell trains with.
    params["tune"].update(enabled=True, methods=["surf_sr"], trials=2, workers=1, pruner="none")
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert sorted(ran(sh("dvc", "repro", cwd=repo))) == ["remix@mnist2-mini-surf_sr-0", "tables", "tune@mnist2-mini"]
    tuned = yaml.safe_load((repo / "results" / "tuned" / "mnist2-mini.yaml").read_text())
    alpha = tuned["settings"]["surf_sr"]["unsup"]["ema_decay"]
    assert tuned["enabled"] and tuned["studies"]["surf_sr"]["trials"]["complete"] == 2 and 0.97 <= alpha < 1
    assert tuned["settings"]["surf_rm"] == {}
    cell = repo / "results" / "cells" / "mnist2-mini" / "surf_sr" / "smoke" / "pipeline" / "seed0" / "metrics.json"
    assert json.loads(cell.read_text())["provenance"]["config"]["unsup"]["ema_decay"] == alpha
    study_cells = repo / "results" / "cells" / "mnist2-mini" / "surf_sr" / "smoke"
    assert len(list(study_cells.glob("v-*/seed0/metrics.valid.json"))) == 2  # trials scored on valid only
    assert not list(study_cells.glob("v-*/seed0/metrics.json"))
    assert ran(sh("dvc", "repro", cwd=repo)) == []  # a finished study: nothing runs


def test_launch_pipeline_runs_the_cells_in_parallel_and_leaves_dvc_up_to_date(tmp_path):
    """`surf-bench launch --pipeline`: the same cells as dvc repro's own stages, two at a time, each
    committed when it finishes, so that dvc repro then runs nothing; a changed method re-runs its
    cells and the ones that start from them."""
    root = scratch_repo(tmp_path / "repo", scratch=["pit"], remix=["surf_sr"])
    sh("surf-bench", "launch", "--pipeline", "--max-parallel", "2", cwd=root)
    assert ran(sh("dvc", "repro", cwd=root)) == []
    assert "up to date" in sh("dvc", "status", cwd=root)
    assert "| surf_sr |" in (root / "results" / "leaderboard.md").read_text()
    launch_json = root / "results" / "cells" / "launch" / "pipeline" / "launch.json"
    record = json.loads(launch_json.read_text())["cells"]
    assert len(record) == 3 and all(s["state"] == "done" and not s["replaced"] for s in record.values())
    assert record["remix@mnist2-mini-surf_sr-0"]["started"] >= record["mixit@mnist2-mini-0"]["finished"]

    def scores(method: str) -> dict:
        cell = root / "results" / "cells" / "mnist2-mini" / method / "smoke" / "pipeline" / "seed0" / "metrics.json"
        return json.loads(cell.read_text())["metrics"]

    launched = {m: scores(m) for m in ("pit", "surf_sr")}
    sh("dvc", "repro", "--force", "--single-item", "scratch@mnist2-mini-pit-0", "remix@mnist2-mini-surf_sr-0",
       cwd=root)  # dvc's own stages train them again (one at a time): the same numbers
    assert {m: scores(m) for m in launched} == launched

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["settings"]["mixit"] = {"train.lr": 0.004}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    before = scores("surf_sr")
    sh("surf-bench", "launch", "--pipeline", cwd=root)
    record = json.loads(launch_json.read_text())["cells"]
    assert set(record) == {"mixit@mnist2-mini-0", "remix@mnist2-mini-surf_sr-0"}
    assert all(s["replaced"] for s in record.values())  # finished cells of changed stages: trained again
    folder = root / "results" / "cells" / "mnist2-mini" / "surf_sr" / "smoke" / "pipeline" / "seed0"
    assert json.loads((folder / "metrics.json.replaced").read_text())["metrics"] == before  # set aside, not lost
    assert scores("surf_sr") != before  # from the new MixIT start, not reused
    assert ran(sh("dvc", "repro", cwd=root)) == []


def test_an_interrupted_launch_pipeline_keeps_its_finished_cells_and_resumes_the_running_one(tmp_path):
    import signal
    import time

    root = scratch_repo(tmp_path / "repo", scratch=["pit"], remix=["surf_sr"])
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["settings"]["surf_sr"] = {"train.steps": 400, "train.log_every": 50}  # training when stopped
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    launch_json = root / "results" / "cells" / "launch" / "pipeline" / "launch.json"
    launcher = subprocess.Popen(["surf-bench", "launch", "--pipeline", "--max-parallel", "1"], cwd=root,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    surf_sr = "remix@mnist2-mini-surf_sr-0"
    checkpoint = root / "results" / "cells" / "mnist2-mini" / "surf_sr" / "smoke" / "pipeline" / "seed0"
    deadline = time.time() + 600
    while time.time() < deadline:  # until surf_sr's job logs its first training steps
        cells = json.loads(launch_json.read_text())["cells"] if launch_json.is_file() else {}
        job_log = launch_json.parent / f"{cells.get(surf_sr, {}).get('job_id')}_0_log.out"
        if job_log.is_file() and "step " in job_log.read_text():
            break
        time.sleep(0.5)
    launcher.send_signal(signal.SIGTERM)
    output = launcher.communicate(timeout=300)[0]
    assert launcher.returncode == 130, output
    done = {s for s, c in json.loads(launch_json.read_text())["cells"].items() if c["state"] == "done"}
    assert "mixit@mnist2-mini-0" in done and surf_sr not in done
    assert (checkpoint / "checkpoint.pt").is_file() and not (checkpoint / "metrics.json").exists()
    changed = json.loads(sh("dvc", "status", "--json", cwd=root) or "{}")
    assert not done & set(changed) and surf_sr in changed  # the finished cells are committed
    sh("surf-bench", "launch", "--pipeline", "--max-parallel", "1", cwd=root)
    again = json.loads(launch_json.read_text())["cells"]
    assert surf_sr in again and not done & set(again) and not again[surf_sr]["replaced"]
    assert "resum" in (root / "results" / "cells" / "launch" / "pipeline").joinpath(
        f"{again[surf_sr]['job_id']}_0_log.out").read_text().lower()
    assert ran(sh("dvc", "repro", cwd=root)) == []


def test_a_failed_mixit_cell_blocks_only_the_cells_that_wait_for_it(tmp_path):
    root = scratch_repo(tmp_path / "repo", scratch=["pit"], remix=["surf_rm"])
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["settings"]["mixit"] = {"train.lr": -1.0}  # refused when the MixIT job builds its optimizer
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(["surf-bench", "launch", "--pipeline"], cwd=root, capture_output=True, text=True,
                            timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 1 and "cell stages did not finish" in result.stderr, result.stderr[-2000:]
    cells = json.loads((root / "results" / "cells" / "launch" / "pipeline" / "launch.json").read_text())["cells"]
    assert cells["mixit@mnist2-mini-0"]["state"] == "failed"
    assert {cells[f"{g}@mnist2-mini-{m}-0"]["state"] for g, m in [("scratch", "pit"), ("remix", "surf_rm")]} == {
        "blocked"}  # the tune stage (and so every other cell of the dataset) waits for that MixIT cell
    assert "mixit@mnist2-mini-0 failed" in cells["remix@mnist2-mini-surf_rm-0"]["reason"]
    assert not (root / "dvc.lock").exists() or "mixit@" not in (root / "dvc.lock").read_text()
