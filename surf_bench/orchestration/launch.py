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

from pathlib import Path

from ..errors import Interrupted, SurfBenchError, UsageError
from .pool import EXECUTORS, INHERIT, Job, JobPool, make_executor, utc_now

__all__ = ["EXECUTORS", "launch", "run_planned", "run_request"]


def run_request(request) -> dict:
    """One job: a cell request (surf_bench.engine.cells.CellRequest) trained and scored, as `surf-bench run`."""
    from ..engine.runner import run_cell

    started = utc_now()
    record = run_cell(request, log=lambda message: print(message, flush=True))
    return {"started": started, "finished": utc_now(), "metrics": record.get("metrics"), "split": request.split}


def run_planned(params_path: str, index: int, out: str, overrides: dict) -> dict:
    """One job: cell ``index`` of the plan (what `surf-bench run --cell` runs), with ``overrides``
    (runtime settings such as threads) on top."""
    from .plan import cell_request, expand, load_params

    grid = load_params(Path(params_path))
    cell = expand(grid)[index]
    request = cell_request(cell, grid, out=Path(out), split=str(grid.get("split", "test")))
    request.overrides.update(overrides)
    return {"index": index, **run_request(request)}


def launch(params_path: Path, executor: str = "local", out: Path | None = None, max_parallel: int = 2,
           gpus_per_cell: int | None = None, partition: str = "", timeout_min: int = 24 * 60, poll_seconds: float = 2.0,
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
    threads = per_process(max_parallel) if executor == "local" else 4
    overrides = {} if "train.threads" in flat_overrides(grid.get("set"), "set") else {"train.threads": threads}
    gpus = (INHERIT if executor == "local" else 0) if gpus_per_cell is None else gpus_per_cell
    submitter = make_executor(executor, logs, threads=threads, gpus=gpus, partition=partition,
                              timeout_min=timeout_min)
    pool = JobPool(submitter, max_parallel, logs, {"params": str(params_path), "executor": executor}, log=log)
    for c in cells:
        pool.add(Job(str(c.index), run_planned, (str(params_path), c.index, str(out), overrides),
                     after=None if c.depends_on is None else str(c.depends_on),
                     label=f"{c.method}@{c.dataset} {c.variant} seed{c.seed}"))
    log(f"{len(cells)} cells from {params_path}, {executor} executor, {max_parallel} at a time "
        f"({overrides.get('train.threads', 'params')} thread(s) each); logs in {logs}/")
    try:
        pool.run(poll_seconds)
    except KeyboardInterrupt:
        pool.stop()  # the cells checkpoint and resume next time
        raise Interrupted("launch interrupted; the running cells were stopped at a checkpoint: launch again to "
                          "resume them") from None
    state = pool.state
    failed = [s["cell"] for s in state.values() if s["state"] != "done"]
    if failed:
        raise SurfBenchError(f"{len(failed)} of {len(cells)} cells did not finish ({', '.join(failed[:4])}"
                             f"{', ...' if len(failed) > 4 else ''}); see {logs / 'launch.json'}; launch again to "
                             "finish them (finished cells are reused)")
    log(f"all {len(cells)} cells finished; {logs / 'launch.json'}")
    return state
