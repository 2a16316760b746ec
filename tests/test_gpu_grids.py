"""benchmarks/gpu_grids.sh, the prepared command of a lent GPU (docs/gpu.md, "Grids on a lent GPU"), runs
on a CPU with a smoke grid: it builds the data, runs the grid through `surf-bench launch` (the remixer
after its MixIT cell) and packs the results into $OUT; a grid that fails (here: an unknown method) is
reported and makes it exit 1, after the others finished and were packed."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = """preset: smoke
datasets: [gmm2]
methods: [mixit, remixit]
seeds: [0]
split: valid
set: {train.threads: 1}
"""


def test_gpu_grids_runs_grids_reports_a_failed_one_and_packs_the_cells(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    broken = tmp_path / "broken.yaml"
    broken.write_text(GRID.replace("[mixit, remixit]", "[no_such_method]"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python3 = bin_dir / "python3"  # the script calls python3, as the GPU machine has it: this interpreter
    python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python3.chmod(0o755)
    out = tmp_path / "out"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "OUT": str(out),
           "WHEELS": str(tmp_path / "no-wheels"), "SURF_BENCH_DATA": str(tmp_path / "data")}
    results = tmp_path / "results"
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_grids.sh"), str(results), "300", "2", str(grid),
                           str(broken)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "broken.log: failed" in done.stdout and "grid.log: finished" in done.stdout, done.stdout
    launch_log = (results / "launch_0_grid.log").read_text()
    assert "all 2 cells finished" in launch_log, launch_log
    parts = sorted(out.glob("results.tgz.part*"))
    assert parts and all(p.stat().st_size <= 15 * 2 ** 20 for p in parts)
    packed = tmp_path / "packed.tgz"
    packed.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(packed) as archive:
        names = archive.getnames()
    for method in ("mixit", "remixit"):
        assert any(n.endswith(f"gmm2/{method}/smoke/default/seed0/metrics.valid.json") for n in names), names
    assert not any(n.endswith(".lock") for n in names)
