"""The GPU plan's prepared script (benchmarks/gpu_first_run.py) starts and writes its figures: a dry
run on CPU with the smoke preset, so it is known to work before a GPU is lent (docs/gpu.md)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_first_gpu_run_dry_runs_on_cpu(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_first_run.py"), "--out", str(out), "--tiny",
                           "--device", "cpu", "--minutes", "4", "--parallel", "2"], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads((out / "env.json").read_text())["device"] == "cpu"
    assert (out / "throughput.csv").read_text().count("\n") == 4  # header + pit, floss, surf_sr
    summary = (out / "summary.md").read_text()
    assert "gmm2" in summary and "mmse_gap_db" in summary
    assert list((out / "archive" / "gmm2").rglob("metrics.valid.json"))  # scores kept without weights
    assert not list((out / "archive").rglob("model.pt"))
    assert summary.count(" done ") == 7  # every gmm2 cell, the remixers after their MixIT cell
    assert (out / "cells.tar.gz").is_file()  # the cells with their checkpoints, to resume elsewhere
