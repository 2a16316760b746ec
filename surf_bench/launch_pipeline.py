"""`surf-bench launch --pipeline`: the DVC pipeline (dvc.yaml) with its cells N at a time
(docs/architecture.md, "Launch").

``dvc repro`` runs one stage at a time. This runs the same pipeline with the cell stages in
parallel, and leaves DVC's record exactly as ``dvc repro`` would, so a ``dvc repro`` afterwards
runs nothing (or only the tables):

1. ``dvc repro prepare``;
2. the MixIT cells whose stages ``dvc status`` lists as changed, N at a time, each with its stage's
   own settings (``--params params.yaml --variant pipeline``), then ``dvc commit`` of those stages;
   with the tune stage off (its file then gives no method any setting), the scratch cells (pit,
   floss) run in the same pool and are committed after step 3;
3. ``dvc repro tune``;
4. the remaining changed cells (remixers; scratch cells when tune is on) likewise, with the tuned
   settings (``--tuned results/tuned/<dataset>.yaml``), then ``dvc commit``;
5. ``dvc repro`` (the tables).

A changed stage whose cell has finished is trained again from scratch (``--force``: its results
are replaced only when the new run succeeds), as DVC would; an unfinished one resumes from its
checkpoint. A cell that fails is not committed, and the cells that start from it do not run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from .errors import SurfBenchError, UsageError

CELLS = Path("results/cells")  # dvc.yaml's `cells` var
VARIANT = "pipeline"  # the variant every cell stage of dvc.yaml names


def run_stage_cell(root: str, dataset: str, method: str, seed: int, force: bool, runtime: dict,
                   tuned: bool) -> dict:
    """One job: what the cell's stage command runs in the repository ``root`` (`surf-bench run ...
    --params params.yaml --tuned results/tuned/<dataset>.yaml --variant pipeline [--init-variant pipeline]`)."""
    import os

    from . import registry
    from .launch import _now
    from .plan import load_params, method_overrides
    from .runner import CellRequest, run_cell
    from .tune_stage import tuned_overrides

    os.chdir(root)  # the stage's paths are relative to the repository, as in dvc.yaml
    started = _now()
    params_path = Path("params.yaml")
    grid = load_params(params_path)
    overrides = method_overrides(params_path, method)  # params file < tuned settings (the stage's order)
    if tuned:
        overrides.update(tuned_overrides(Path("results/tuned") / f"{dataset}.yaml", dataset, method))
    overrides.update(runtime)
    starts_from = registry.get_method(method).init_from
    request = CellRequest(method, dataset, str(grid.get("preset", "quick")), seed, overrides, CELLS, force=force,
                          variant=VARIANT, init_variant=VARIANT if starts_from else None)
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


def launch_pipeline(params_path: Path = Path("params.yaml"), max_parallel: int = 2, timeout_min: int = 24 * 60,
                    poll_seconds: float = 2.0, log=print) -> dict:
    """Run dvc.yaml's pipeline in the current directory with its cells ``max_parallel`` at a time."""
    from .launch import _executor, run_jobs
    from .plan import PlannedCell, flat_overrides, load_params
    from .threads import per_process

    if not Path("dvc.yaml").is_file() or Path(params_path).resolve() != Path("params.yaml").resolve():
        raise UsageError("launch --pipeline runs this repository's dvc.yaml with its params.yaml: run it in the "
                         "repository root, without --params or with --params params.yaml")
    if max_parallel < 1:
        raise UsageError("--max-parallel must be >= 1")
    grid = load_params(Path(params_path))
    matrix = {group: (yaml.safe_load(Path("dvc.yaml").read_text())["stages"][group].get("matrix") or {})
              for group in ("mixit", "scratch", "remix")}
    datasets = [str(d) for d in grid.get("datasets", [])]
    seeds = [int(s) for s in grid.get("seeds", [0])]
    preset = str(grid.get("preset", "quick"))
    logs = CELLS / "launch" / "pipeline"
    logs.mkdir(parents=True, exist_ok=True)
    runtime = {} if "train.threads" in flat_overrides(grid.get("set"), "set") else {
        "train.threads": per_process(max_parallel)}
    submitter = _executor("local", logs, threads=per_process(max_parallel), gpus=0, partition="",
                          timeout_min=timeout_min)
    records: dict[str, dict] = {}

    def run_changed(groups: tuple[str, ...], tuned: bool) -> tuple[list[str], list[str]]:
        """The changed cell stages of ``groups``, N at a time: (finished, not finished) stage names."""
        changed = json.loads(_dvc("status", "--json", *groups, log=log) or "{}")
        cells, names = [], {}
        for group in groups:
            for dataset in datasets:
                for method in matrix[group].get("method", ["mixit"]):
                    for seed in seeds:
                        name = stage_name(group, dataset, method, seed)
                        if name in changed:
                            names[len(cells)] = name
                            cells.append(PlannedCell(len(cells), dataset, method, preset, VARIANT, seed))
        if not cells:
            log(f"{', '.join(groups)}: every cell is up to date")
            return [], []

        def submit(cell):
            folder = CELLS / cell.dataset / cell.method / preset / VARIANT / f"seed{cell.seed}"
            force = (folder / "metrics.json").is_file()  # its stage changed: train it again, as dvc repro would
            return submitter.submit(run_stage_cell, str(Path.cwd()), cell.dataset, cell.method, cell.seed, force,
                                    runtime, tuned)

        log(f"{len(cells)} changed cell stages ({', '.join(groups)}), {max_parallel} at a time; logs in {logs}/")
        state = run_jobs(cells, submit, logs, {"params": str(params_path), "stages": list(groups)}, max_parallel,
                         poll_seconds, log, strict=False)
        records.update({names[i]: s for i, s in state.items()})
        return ([names[i] for i, s in state.items() if s["state"] == "done"],
                [names[i] for i, s in state.items() if s["state"] != "done"])

    def commit(names: list[str]) -> None:
        if names:
            _dvc("commit", "--force", *names, log=log)

    def check(failed: list[str]) -> None:
        if failed:
            raise SurfBenchError(f"{len(failed)} cell stages did not finish ({', '.join(failed[:4])}); see "
                                 f"{logs / 'launch.json'}; the finished ones are committed: launch again to finish "
                                 "the rest")

    tune_on = bool((grid.get("tune") or {}).get("enabled"))
    _dvc("repro", "prepare", log=log)
    done, failed = run_changed(("mixit",) if tune_on else ("mixit", "scratch"), tuned=False)
    commit([name for name in done if name.startswith("mixit@")])
    check(failed)
    _dvc("repro", "tune", log=log)
    commit([name for name in done if name.startswith("scratch@")])  # needs the tune stage's file (a param)
    done, failed = run_changed(("scratch", "remix"), tuned=True)
    commit(done)
    check(failed)
    _dvc("repro", log=log)
    log("pipeline up to date: results/leaderboard.md (and .csv, .tex), results/report.html")
    return records
