"""`surf-bench launch --pipeline`: the DVC pipeline (dvc.yaml) with its cells N at a time
(docs/architecture.md, "Launch").

``dvc repro`` runs one stage at a time. This runs the same pipeline with the cell stages in
parallel, and leaves DVC's record exactly as ``dvc repro`` would, so a ``dvc repro`` afterwards
runs nothing (or only the tables):

1. ``dvc repro prepare``;
2. the MixIT cells whose stages ``dvc status`` lists as changed, N at a time, each as its stage's
   command runs it (``--params params.yaml --variant pipeline``);
3. once a dataset's MixIT cells are done: ``dvc repro tune@<dataset>``, then that dataset's changed
   scratch (pit, floss) and remixer cells join the pool, with the tuned settings;
4. ``dvc repro`` (the tables).

Each finished cell is recorded at once with ``dvc commit`` (which hashes its deps and outs into
dvc.lock as if the stage had run), so an interrupted launch loses only the running cells, which
resume from their checkpoints. A changed stage whose cell had finished is trained again from
scratch (``force``: its results are replaced only when the new run succeeds), as DVC would. A
cell that fails is not committed, and the cells of its dataset that wait for it do not run.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import yaml

from .errors import Interrupted, SurfBenchError, UsageError

CELLS = Path("results/cells")  # dvc.yaml's `cells` var
VARIANT = "pipeline"  # the variant every cell stage of dvc.yaml names


def run_stage_cell(root: str, dataset: str, method: str, seed: int, force: bool, runtime: dict) -> dict:
    """One job: what the cell's stage command runs in the repository ``root`` (`surf-bench run ...
    --params params.yaml [--tuned results/tuned/<dataset>.yaml] --variant pipeline
    [--init-variant pipeline]`)."""
    import os

    from . import registry
    from .launch import _now
    from .plan import load_params, method_overrides
    from .runner import CellRequest, run_cell
    from .tune_stage import tuned_overrides

    os.chdir(root)  # the stage's paths are relative to the repository, as in dvc.yaml
    started = _now()
    params_path = Path("params.yaml")
    overrides = method_overrides(params_path, method)  # params file < tuned settings (the stage's order)
    if method != "mixit":
        overrides.update(tuned_overrides(Path("results/tuned") / f"{dataset}.yaml", dataset, method))
    overrides.update(runtime)
    starts_from = registry.get_method(method).init_from
    request = CellRequest(method, dataset, str(load_params(params_path).get("preset", "quick")), seed, overrides,
                          CELLS, force=force, variant=VARIANT, init_variant=VARIANT if starts_from else None)
    record = run_cell(request, log=lambda message: print(message, flush=True))
    return {"started": started, "finished": _now(), "metrics": record.get("metrics")}


def stage_name(group: str, dataset: str, method: str, seed: int) -> str:
    """DVC's name of a matrix stage: ``group@<values in matrix order>``."""
    return f"{group}@{dataset}-{seed}" if group == "mixit" else f"{group}@{dataset}-{method}-{seed}"


def _dvc(*args: str, log) -> str:
    dvc = shutil.which("dvc")
    if dvc is None:
        raise UsageError("launch --pipeline needs dvc on the PATH (it is one of surf-bench's dependencies: "
                         "pip install -e . in this repository's environment)")
    log(f"$ dvc {' '.join(args)}")
    result = subprocess.run([dvc, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SurfBenchError(f"dvc {' '.join(args)} failed: {(result.stderr or result.stdout).strip()[-600:]}")
    return result.stdout


class _Pipeline:
    """The pool: cells waiting for their dataset's MixIT cells and tune stage, running, finished."""

    def __init__(self, grid: dict, matrix: dict, max_parallel: int, submitter, runtime: dict, logs: Path, log):
        self.datasets = [str(d) for d in grid.get("datasets", [])]
        self.seeds = [int(s) for s in grid.get("seeds", [0])]
        self.preset = str(grid.get("preset", "quick"))
        self.matrix, self.max_parallel, self.submitter, self.runtime = matrix, max_parallel, submitter, runtime
        self.logs, self.log = logs, log
        self.ready: list[tuple[str, str, str, int]] = []  # (stage, dataset, method, seed)
        self.running: dict[str, object] = {}
        self.state: dict[str, dict] = {}
        self.mixit_left: dict[str, set[str]] = {}

    def changed(self, groups: tuple[str, ...], datasets: list[str]) -> list[tuple[str, str, str, int]]:
        """The cell stages of ``groups`` on ``datasets`` that ``dvc status`` lists as changed."""
        status = json.loads(_dvc("status", "--json", *groups, log=self.log) or "{}")
        return [(stage_name(g, d, m, s), d, m, s) for d in datasets for g in groups
                for m in self.matrix[g].get("method", ["mixit"]) for s in self.seeds
                if stage_name(g, d, m, s) in status]

    def add(self, cells) -> None:
        for stage, *_ in cells:
            self.state[stage] = {"state": "waiting"}
        self.ready.extend(cells)

    def open_dataset(self, dataset: str) -> None:
        """The dataset's MixIT cells are done: its tune stage, then its other changed cells."""
        _dvc("repro", f"tune@{dataset}", log=self.log)
        cells = self.changed(("scratch", "remix"), [dataset])
        self.log(f"{dataset}: {len(cells)} changed scratch and remixer cells")
        self.add(cells)

    def save(self) -> None:
        (self.logs / "launch.json").write_text(json.dumps({"max_parallel": self.max_parallel, "cells": self.state},
                                                          indent=1, default=str))

    def submit(self, stage: str, dataset: str, method: str, seed: int) -> None:
        folder = CELLS / dataset / method / self.preset / VARIANT / f"seed{seed}"
        force = (folder / "metrics.json").is_file()  # its stage changed: train it again, as dvc repro would
        job = self.submitter.submit(run_stage_cell, str(Path.cwd()), dataset, method, seed, force, self.runtime)
        self.running[stage] = job
        self.state[stage].update(state="running", job_id=str(job.job_id), retrained=force)
        self.log(f"started {stage} (job {job.job_id})")

    def finish(self, stage: str, job) -> None:
        from .launch import _job_error

        del self.running[stage]
        try:
            self.state[stage].update(state="done", **job.result())
        except Exception as exc:  # the job's own error, with its log file
            self.state[stage].update(state="failed", error=_job_error(str(exc)), log=str(job.paths.stderr))
            self.log(f"failed  {stage}: see {job.paths.stderr}")
            return
        _dvc("commit", "--force", stage, log=self.log)
        self.log(f"done    {stage}")
        dataset = next((d for d, left in self.mixit_left.items() if stage in left), None)
        if dataset is not None:
            self.mixit_left[dataset].discard(stage)
            if not self.mixit_left[dataset]:
                self.open_dataset(dataset)

    def run(self, poll_seconds: float) -> None:
        while self.ready or self.running:
            for stage, job in list(self.running.items()):
                if job.done():
                    self.finish(stage, job)
            while self.ready and len(self.running) < self.max_parallel:
                self.submit(*self.ready.pop(0))
            self.save()
            if self.ready or self.running:
                time.sleep(poll_seconds)


def launch_pipeline(params_path: Path = Path("params.yaml"), max_parallel: int = 2, timeout_min: int = 24 * 60,
                    poll_seconds: float = 2.0, log=print) -> dict:
    """Run dvc.yaml's pipeline in the current directory with its cells ``max_parallel`` at a time;
    returns each launched stage's record (also ``results/cells/launch/pipeline/launch.json``)."""
    from .launch import _executor
    from .plan import flat_overrides, load_params
    from .threads import per_process

    if not Path("dvc.yaml").is_file() or Path(params_path).resolve() != Path("params.yaml").resolve():
        raise UsageError("launch --pipeline runs this repository's dvc.yaml with its params.yaml: run it in the "
                         "repository root, without --params or with --params params.yaml")
    if max_parallel < 1:
        raise UsageError("--max-parallel must be >= 1")
    grid = load_params(Path(params_path))
    stages = yaml.safe_load(Path("dvc.yaml").read_text())["stages"]
    matrix = {group: stages[group].get("matrix") or {} for group in ("mixit", "scratch", "remix")}
    logs = CELLS / "launch" / "pipeline"
    logs.mkdir(parents=True, exist_ok=True)
    runtime = {} if "train.threads" in flat_overrides(grid.get("set"), "set") else {
        "train.threads": per_process(max_parallel)}
    submitter = _executor("local", logs, threads=per_process(max_parallel), gpus=0, partition="",
                          timeout_min=timeout_min)
    pool = _Pipeline(grid, matrix, max_parallel, submitter, runtime, logs, log)

    def stop(signum, frame):  # a SIGTERM (a session or job ending) stops the cells like Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        _dvc("repro", "prepare", log=log)
        cells = pool.changed(("mixit",), pool.datasets)
        pool.mixit_left = {d: {stage for stage, dataset, *_ in cells if dataset == d} for d in pool.datasets}
        pool.add(cells)
        log(f"{sum(map(len, pool.mixit_left.values()))} changed MixIT cells, {max_parallel} at a time; logs in "
            f"{logs}/")
        for dataset in pool.datasets:
            if not pool.mixit_left[dataset]:
                pool.open_dataset(dataset)
        pool.run(poll_seconds)
    except BaseException as exc:  # Ctrl-C, SIGTERM, or a dvc command that failed: stop the running cells
        for job in pool.running.values():
            job.cancel(check=False)  # the cell checkpoints and resumes on the next launch
        pool.save()
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted("launch --pipeline interrupted; the finished cells are committed and the running "
                              "ones stopped at a checkpoint: launch again to go on") from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    failed = [stage for stage, s in pool.state.items() if s["state"] != "done"]
    if failed:
        raise SurfBenchError(f"{len(failed)} cell stages did not finish ({', '.join(failed[:4])}); see "
                             f"{logs / 'launch.json'}; the finished ones are committed: launch again to finish the "
                             "rest")
    _dvc("repro", log=log)
    log("pipeline up to date: results/leaderboard.md (and .csv, .tex), results/report.html")
    return pool.state
