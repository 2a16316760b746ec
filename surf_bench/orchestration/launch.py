"""`surf-bench launch`: every cell of a plan as its own submitit job, in dependency order
(docs/architecture.md, "Launch").

The launcher expands the params file into cells (surf_bench.orchestration.plan), submits a cell once the cell it
starts from (its MixIT cell) has finished, and keeps at most ``max_parallel`` jobs in flight. Each
job runs exactly what ``surf-bench run --cell I --params FILE`` runs, into the same results layout,
so the tables read the cells wherever they were trained, and a finished cell is reused (launching
again finishes only what is missing). ``local`` is submitit's own local executor (subprocesses on
this machine, each with cores / max_parallel threads); ``slurm`` submits sbatch jobs with the
partition, GPUs and CPUs given. A failed cell is reported with its log, and the cells that start
from it are skipped; the others go on. The launcher writes ``<logs>/launch.json`` (per cell: job id,
state, start and end times, the folder and the headline figure).
"""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import Interrupted, SurfBenchError, UsageError

EXECUTORS = ("local", "slurm")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def run_planned(params_path: str, index: int, out: str, overrides: dict) -> dict:
    """One job: cell ``index`` of the plan (what `surf-bench run --cell` runs), with ``overrides``
    (runtime settings such as threads) on top."""
    from ..engine.runner import run_cell
    from .plan import cell_request, expand, load_params

    started = utc_now()
    grid = load_params(Path(params_path))
    cell = expand(grid)[index]
    request = cell_request(cell, grid, out=Path(out), split=str(grid.get("split", "test")))
    request.overrides.update(overrides)
    record = run_cell(request, log=lambda message: print(message, flush=True))
    return {"index": index, "started": started, "finished": utc_now(), "metrics": record.get("metrics"),
            "split": request.split}


def stop_jobs(jobs, wait_seconds: float = 300.0) -> None:
    """Stop running jobs so that their cells checkpoint: a local job's submitit controller gets
    SIGTERM, which it forwards once to the cell (its ``cancel`` sends SIGINT and then SIGKILL after
    a second, which can cut a checkpoint short); a SLURM job is cancelled (scancel sends SIGTERM).
    Waits until the local jobs have exited."""
    local = []
    for job in jobs:
        process = getattr(job, "_process", None)  # submitit's LocalJob: the controller's Popen
        if process is None:
            job.cancel(check=False)
            continue
        process.send_signal(signal.SIGTERM)
        local.append(process)
    deadline = time.time() + wait_seconds
    while any(p.poll() is None for p in local) and time.time() < deadline:
        time.sleep(0.2)


def job_error(text: str) -> str:
    """The job's own error line out of submitit's failure report (its traceback's last exception)."""
    lines = [line.strip() for line in text.splitlines() if "Error: " in line and "FailedJobError" not in line]
    return (lines[-1] if lines else " ".join(text.split()))[:300]


def make_executor(kind: str, folder: Path, *, threads: int, gpus: int, partition: str, timeout_min: int):
    try:
        import submitit
    except ImportError:
        raise UsageError("surf-bench launch needs submitit: pip install -e '.[cluster]' (with -c "
                         "constraints-cpu.txt on a CPU machine)") from None
    executor = submitit.AutoExecutor(folder=str(folder), cluster=kind)
    parameters = {"timeout_min": timeout_min, "gpus_per_node": gpus, "name": "surf-bench"}
    if kind == "slurm":
        parameters.update(cpus_per_task=threads, tasks_per_node=1, nodes=1)
        if partition:
            parameters["slurm_partition"] = partition
    executor.update_parameters(**parameters)
    return executor


def launch(params_path: Path, executor: str = "local", out: Path | None = None, max_parallel: int = 2,
           gpus_per_cell: int = 0, partition: str = "", timeout_min: int = 24 * 60, poll_seconds: float = 2.0,
           log=print) -> dict:
    """Run every cell of the plan through submitit; returns the launch record (also launch.json)."""
    from ..engine.threads import per_process
    from .plan import expand, flat_overrides, load_params

    if executor not in EXECUTORS:
        raise UsageError(f"--executor {executor!r}: valid: {', '.join(EXECUTORS)}")
    if max_parallel < 1:
        raise UsageError("--max-parallel must be >= 1")
    grid = load_params(params_path)
    cells = expand(grid)
    out = Path(out or grid.get("out") or "results")
    logs = out / "launch" / Path(params_path).stem
    logs.mkdir(parents=True, exist_ok=True)
    threads = per_process(max_parallel) if executor == "local" else 4
    overrides = {} if "train.threads" in flat_overrides(grid.get("set"), "set") else {"train.threads": threads}
    submitter = make_executor(executor, logs, threads=threads, gpus=gpus_per_cell, partition=partition,
                              timeout_min=timeout_min)
    state = {c.index: {"cell": f"{c.method}@{c.dataset} {c.variant} seed{c.seed}", "state": "waiting"} for c in cells}
    waiting = list(cells)
    running: dict[int, object] = {}

    def save() -> None:
        (logs / "launch.json").write_text(json.dumps({"params": str(params_path), "executor": executor,
                                                      "max_parallel": max_parallel, "cells": state}, indent=1,
                                                     default=str))

    def submit(cell):
        return submitter.submit(run_planned, str(params_path), cell.index, str(out), overrides)

    log(f"{len(cells)} cells from {params_path}, {executor} executor, {max_parallel} at a time "
        f"({overrides.get('train.threads', 'params')} thread(s) each); logs in {logs}/")
    try:
        _schedule(cells, state, waiting, running, submit, max_parallel, poll_seconds, save, log)
    except KeyboardInterrupt:
        stop_jobs(list(running.values()))  # the cells checkpoint and resume next time
        save()
        raise Interrupted("launch interrupted; the running cells were stopped at a checkpoint: launch again to "
                          "resume them") from None
    failed = [s["cell"] for s in state.values() if s["state"] != "done"]
    if failed:
        raise SurfBenchError(f"{len(failed)} of {len(cells)} cells did not finish ({', '.join(failed[:4])}"
                             f"{', ...' if len(failed) > 4 else ''}); see {logs / 'launch.json'}; launch again to "
                             "finish them (finished cells are reused)")
    log(f"all {len(cells)} cells finished; {logs / 'launch.json'}")
    return state


def _schedule(cells, state, waiting, running, submit, max_parallel, poll_seconds, save, log) -> None:
    """Poll the jobs; ``submit(cell)`` each cell once its init cell is done, at most max_parallel at a time."""
    while waiting or running:
        for index, job in list(running.items()):
            if not job.done():
                continue
            del running[index]
            try:
                result = job.result()
                state[index].update(state="done", **result)
                log(f"done    {state[index]['cell']}")
            except Exception as exc:  # the job's own error, with its log file
                reason = job_error(str(exc))
                state[index].update(state="failed", error=reason, log=str(job.paths.stderr))
                log(f"failed  {state[index]['cell']}: see {job.paths.stderr}")
        for cell in list(waiting):
            parent = cell.depends_on
            if parent is not None and state[parent]["state"] in ("failed", "skipped"):
                waiting.remove(cell)
                state[cell.index].update(state="skipped", error=f"its init cell {state[parent]['cell']} failed")
                log(f"skipped {state[cell.index]['cell']} (its init cell failed)")
            elif (parent is None or state[parent]["state"] == "done") and len(running) < max_parallel:
                waiting.remove(cell)
                job = submit(cell)
                running[cell.index] = job
                state[cell.index].update(state="running", job_id=str(job.job_id))
                log(f"started {state[cell.index]['cell']} (job {job.job_id})")
        save()
        if waiting or running:
            time.sleep(poll_seconds)
