"""`surf-bench launch --pipeline`: the DVC pipeline (dvc.yaml) with its cells N at a time
(docs/architecture.md, "Launch").

``dvc repro`` runs one stage at a time. This runs the same pipeline with the cell stages in
parallel, and leaves DVC's record as ``dvc repro`` would, so a ``dvc repro`` afterwards runs
nothing (or only the tables):

1. ``dvc repro prepare``;
2. the MixIT cells whose stages ``dvc status`` lists as changed, N at a time, each as its stage's
   command runs it (``--params params.yaml --variant pipeline``);
3. once a dataset's MixIT cell of ``tune.seed`` is done: ``dvc repro tune@<dataset>``, then that
   dataset's changed scratch cells (pit, floss) and, seed by seed once that seed's MixIT cell is
   done, its changed remixer cells join the pool, with the tuned settings;
4. ``dvc repro`` (the tables).

Each finished cell is recorded at once with ``dvc commit`` (which hashes its deps and outs into
dvc.lock as if the stage had run), so an interrupted launch loses only the running cells, which
resume from their checkpoints. A changed stage's existing outputs are set aside as
``<name>.replaced`` (DVC would delete them) and its cell trains again, resuming from a checkpoint
where one is left. A cell that fails is not committed, and the cells that wait for it are reported
as blocked. Editing params.yaml or the code during a launch stops it before the next commit.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import yaml

from ..errors import Interrupted, SurfBenchError, UsageError
from .pool import INHERIT, Job, JobPool, make_executor, utc_now

CELLS = Path("results/cells")  # dvc.yaml's `cells` var
INIT_GROUP = "mixit"  # dvc.yaml's stage group of the init cells, which the remix group's cells start from
VARIANT = "pipeline"  # the variant every cell stage of dvc.yaml names
OUTPUTS = ("model.pt", "items.csv", "metrics.json", "train_log.csv")  # a cell stage's outs in dvc.yaml
WATCHED = ("params.yaml", "dvc.yaml", "surf_bench", "methods", "datasets")  # what a cell is trained with


def run_stage_cell(root: str, group: str, dataset: str, method: str, seed: int) -> dict:
    """One job: what the cell's stage command (stage ``group``) runs in the repository ``root``
    (`surf-bench run ... --params params.yaml [--tuned results/tuned/<dataset>.yaml] --variant pipeline
    [--init-variant pipeline]`)."""
    import os

    from .. import registry
    from ..engine.runner import CellRequest, run_cell
    from .plan import load_params
    from .tune_stage import stage_overrides

    os.chdir(root)  # the stage's paths are relative to the repository, as in dvc.yaml
    started = utc_now()
    params_path = Path("params.yaml")
    tuned = None if group == INIT_GROUP else Path("results/tuned") / f"{dataset}.yaml"  # init stages run before tune
    overrides = stage_overrides(params_path, dataset, method, tuned)
    starts_from = registry.get_method(method).init_from
    request = CellRequest(method, dataset, str(load_params(params_path).get("preset", "quick")), seed, overrides,
                          CELLS, variant=VARIANT, init_variant=VARIANT if starts_from else None)
    record = run_cell(request, log=lambda message: print(message, flush=True))
    return {"started": started, "finished": utc_now(), "metrics": record.get("metrics")}


def stage_name(group: str, dataset: str, method: str, seed: int) -> str:
    """DVC's name of a matrix stage: ``group@<values in matrix order>``."""
    return f"{group}@{dataset}-{seed}" if group == INIT_GROUP else f"{group}@{dataset}-{method}-{seed}"


def _fingerprint() -> dict[str, tuple[int, int]]:
    """(mtime, size) of every file a cell is trained with: params, the pipeline, the code."""
    files = {}
    for name in WATCHED:
        path = Path(name)
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                stat = file.stat()
                files[str(file)] = (stat.st_mtime_ns, stat.st_size)
    return files


def set_aside(folder: Path) -> bool:
    """A changed stage's outputs, renamed ``<name>.replaced`` (DVC would delete them); True if any."""
    moved = False
    for name in OUTPUTS:
        if (folder / name).exists():
            (folder / name).replace(folder / f"{name}.replaced")
            moved = True
    return moved


class _Pipeline:
    """The pipeline's gating on top of the job pool: a dataset's scratch and remix stages join the
    pool once its tune-seed init cell and its tune stage are done, a seed's remixers once that seed's
    init cell is; every finished cell is committed to dvc.lock."""

    def __init__(self, grid: dict, matrix: dict, max_parallel: int, submitter, logs: Path, log):
        self.datasets = [str(d) for d in grid.get("datasets", [])]
        self.seeds = [int(s) for s in grid.get("seeds", [0])]
        self.tune_seed = int((grid.get("tune") or {}).get("seed", self.seeds[0]))
        self.preset = str(grid.get("preset", "quick"))
        self.matrix, self.log = matrix, log
        self.pool = JobPool(submitter, max_parallel, logs, log=log, on_submit=self.set_aside, on_done=self.finish,
                            on_failed=self.failed)
        self.init_waiting: set[tuple[str, int]] = set()  # (dataset, seed) whose init cell is not done
        self.init_failed: set[tuple[str, int]] = set()
        self.tuned: set[str] = set()
        self.asked: set[tuple[str, int]] = set()  # (dataset, seed) whose remixer stages were asked about
        self.fingerprint = _fingerprint()
        self.in_dvc = self.stop_requested = self.stopping = False

    # --- dvc, with stop signals held while it writes ---------------------------------------------
    def on_signal(self, signum, frame) -> None:
        if self.stopping:
            return  # already stopping the cells: a second Ctrl-C does not cut that short
        if self.in_dvc:
            self.stop_requested = True  # a dvc command is writing dvc.lock: stop after it
        else:
            raise KeyboardInterrupt

    def dvc(self, *args: str) -> str:
        dvc = shutil.which("dvc")
        if dvc is None:
            raise UsageError("launch --pipeline needs dvc on the PATH (the pipeline extra has it: "
                             "pip install -e '.[pipeline]' in this repository's environment)")
        self.log(f"$ dvc {' '.join(args)}")
        self.in_dvc = True
        try:
            result = subprocess.run([dvc, *args], capture_output=True, text=True)
        finally:
            self.in_dvc = False
        if self.stop_requested and not self.stopping:  # a signal came while dvc ran: stop now
            self.stop_requested = False
            raise KeyboardInterrupt
        if result.returncode != 0:
            raise SurfBenchError(f"dvc {' '.join(args)} failed: {(result.stderr or result.stdout).strip()[-600:]}")
        return result.stdout

    def changed(self, groups: tuple[str, ...], datasets: list[str], seeds: list[int]) -> list[tuple]:
        """(stage, group, dataset, method, seed) of the cell stages of ``groups`` on ``datasets`` x ``seeds``
        that ``dvc status`` lists as changed."""
        status = json.loads(self.dvc("status", "--json", *groups) or "{}")
        return [(stage_name(g, d, m, s), g, d, m, s) for d in datasets for g in groups
                for m in self.matrix[g].get("method", [INIT_GROUP]) for s in seeds
                if stage_name(g, d, m, s) in status]

    # --- what joins the pool, and when ------------------------------------------------------------
    def add(self, cells) -> None:
        for stage, group, dataset, method, seed in cells:
            self.pool.add(Job(stage, run_stage_cell, (str(Path.cwd()), group, dataset, method, seed), label=stage))

    def block(self, groups: tuple[str, ...], dataset: str, seeds: list[int], reason: str) -> None:
        for group in groups:
            for method in self.matrix[group].get("method", []):
                for seed in seeds:
                    self.pool.mark(stage_name(group, dataset, method, seed), "blocked", reason=reason)
        self.log(f"blocked {dataset} {'/'.join(groups)} seeds {seeds}: {reason}")

    def open(self, dataset: str) -> None:
        """Once the dataset's tune-seed init cell is done: its tune stage, then the scratch cells and
        the remixers of every seed whose init cell is done."""
        if dataset in self.tuned or (dataset, self.tune_seed) in self.init_waiting:
            return
        if (dataset, self.tune_seed) in self.init_failed:
            self.block(("scratch", "remix"), dataset, self.seeds,
                       f"{stage_name(INIT_GROUP, dataset, '', self.tune_seed)} failed")
            return
        try:
            self.dvc("repro", f"tune@{dataset}")
        except SurfBenchError as exc:
            self.block(("scratch", "remix"), dataset, self.seeds, f"tune@{dataset} failed: {exc}")
            return
        self.tuned.add(dataset)
        self.add(self.changed(("scratch",), [dataset], self.seeds))
        for seed in self.seeds:
            self.remixers(dataset, seed)

    def remixers(self, dataset: str, seed: int) -> None:
        if dataset not in self.tuned or (dataset, seed) in self.init_waiting or (dataset, seed) in self.asked:
            return
        self.asked.add((dataset, seed))
        if (dataset, seed) in self.init_failed:
            self.block(("remix",), dataset, [seed], f"{stage_name(INIT_GROUP, dataset, '', seed)} failed")
        else:
            self.add(self.changed(("remix",), [dataset], [seed]))

    # --- the pool's hooks -------------------------------------------------------------------------
    def set_aside(self, job: Job) -> dict:
        _, group, dataset, method, seed = job.args
        return {"replaced": set_aside(CELLS / dataset / method / self.preset / VARIANT / f"seed{seed}")}

    def commit(self, job: Job, result: dict) -> None:
        if _fingerprint() != self.fingerprint:
            raise SurfBenchError(f"params.yaml, dvc.yaml or the code changed during the launch, so {job.key} and the "
                                 "cells still running may have trained with other files: they are not committed; "
                                 "launch again")
        self.dvc("commit", "--force", job.key)

    def finish(self, job: Job, result: dict) -> None:
        self.commit(job, result)
        self.init_done(job, failed=False)

    def failed(self, job: Job, error: str) -> None:
        self.init_done(job, failed=True)

    def init_done(self, job: Job, failed: bool) -> None:
        _, group, dataset, _, seed = job.args
        if group != INIT_GROUP:
            return
        self.init_waiting.discard((dataset, seed))
        if failed:
            self.init_failed.add((dataset, seed))
        self.open(dataset)
        self.remixers(dataset, seed)

    def stop(self) -> None:
        """Interrupted: commit the cells that have just finished, stop the running ones at a checkpoint."""
        self.stopping = True
        self.pool.stop(settle=self.commit)


def launch_pipeline(params_path: Path = Path("params.yaml"), max_parallel: int = 2, timeout_min: int = 24 * 60,
                    poll_seconds: float = 2.0, log=print) -> dict:
    """Run dvc.yaml's pipeline in the current directory with its cells ``max_parallel`` at a time;
    returns each launched stage's record (also ``results/cells/launch/pipeline/launch.json``)."""
    from ..engine.threads import per_process
    from .plan import flat_overrides, load_params

    if not Path("dvc.yaml").is_file() or Path(params_path).resolve() != Path("params.yaml").resolve():
        raise UsageError("launch --pipeline runs this repository's dvc.yaml with its params.yaml: run it in the "
                         "repository root, without --params or with --params params.yaml")
    if max_parallel < 1:
        raise UsageError("--max-parallel must be >= 1")
    grid = load_params(Path(params_path))
    if "train.threads" not in flat_overrides(grid.get("set"), "set"):
        log("note: params.yaml's `set` has no train.threads, so each cell takes the default, as under dvc repro "
            f"(with {max_parallel} cells at a time the cores are shared)")
    stages = yaml.safe_load(Path("dvc.yaml").read_text())["stages"]
    matrix = {group: stages[group].get("matrix") or {} for group in (INIT_GROUP, "scratch", "remix")}
    logs = CELLS / "launch" / "pipeline"
    submitter = make_executor("local", logs, threads=per_process(max_parallel), gpus=INHERIT,
                              timeout_min=timeout_min)
    pipeline = _Pipeline(grid, matrix, max_parallel, submitter, logs, log)
    handlers = {sig: signal.signal(sig, pipeline.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        pipeline.dvc("repro", "prepare")
        cells = pipeline.changed((INIT_GROUP,), pipeline.datasets, pipeline.seeds)
        pipeline.init_waiting = {(dataset, seed) for _, _, dataset, _, seed in cells}
        pipeline.add(cells)
        log(f"{len(cells)} changed init cells, {max_parallel} at a time; logs in {logs}/")
        for dataset in pipeline.datasets:
            pipeline.open(dataset)
        pipeline.pool.run(poll_seconds)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (a session or job ending)
        pipeline.stop()
        raise Interrupted("launch --pipeline interrupted; the finished cells are committed and the running ones "
                          "stopped at a checkpoint: launch again to go on") from None
    except BaseException:  # a dvc command that failed, files edited during the launch: stop the cells too
        pipeline.pool.abort()
        raise
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    unfinished = pipeline.pool.unfinished()
    if unfinished:
        raise SurfBenchError(f"{len(unfinished)} cell stages did not finish ({', '.join(list(unfinished)[:4])}"
                             f"{', ...' if len(unfinished) > 4 else ''}: failed or blocked by a failed one); see "
                             f"{logs / 'launch.json'}; the finished ones are committed: launch again to finish the "
                             "rest")
    pipeline.dvc("repro")
    log("pipeline up to date: results/leaderboard.md (and .csv, .tex), results/report.html")
    return pipeline.pool.state
