"""Command line: ``surf-bench methods | datasets | run | table | ...``.

User errors print one line (no traceback unless --debug) and exit with 2 for usage errors, 1 for
the others.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import registry
from .errors import SurfBenchError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="surf-bench: unsupervised source separation with flow matching (SURF) benchmark.")
console = Console(stderr=True)
STATE = {"debug": False}


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    STATE["debug"] = debug or bool(os.environ.get("SURF_BENCH_DEBUG"))


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
        line = f"{name:<14} {adapter.modality:<6} K={adapter.n_slots:<2} {where:<9} {present:<8} {adapter.description}"
        if verbose and present == "present":
            split = adapter.open("test", adapter.default_root())
            line += f"\n{'':<14} test items={len(split)} manifest={split.manifest_hash()}"
        typer.echo(line)


@app.command("run")
def run(
    method: str = typer.Option(..., "--method", "-m", help="Method name (see `surf-bench methods`)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name (see `surf-bench datasets`)."),
    preset: str = typer.Option("quick", "--preset", "-p", help="smoke | quick | paper"),
    seed: int = typer.Option(0, "--seed", help="Seed of the cell (init, data order, noise)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Config override key=value, e.g. train.steps=500"),
    out: Path = typer.Option(Path("results"), "--out", help="Results root."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    force: bool = typer.Option(False, "--force", help="Re-run a finished cell."),
    data_root: Optional[str] = typer.Option(None, "--data-root", help="Dataset root folder."),
):
    """Train (or resume, or reuse) and evaluate one cell (method, dataset, preset, seed)."""
    from .config import parse_set_options
    from .runner import CellRequest, run_cell

    request = CellRequest(method=method, dataset=dataset, preset=preset, seed=seed,
                          overrides=parse_set_options(set_ or []), out=out, device=device, force=force,
                          data_root=data_root)
    result = run_cell(request, log=lambda msg: console.print(msg, highlight=False))
    metrics = result["metrics"]
    base = result["baseline"]
    shown = "  ".join(f"{k}={metrics[k]:.3f} (mixture {base[k]:.3f})" for k in metrics if not k.endswith("_ci95"))
    typer.echo(f"{result['method']} on {result['dataset']} [{result['preset']}, seed {result['seed']}]: {shown}")


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=False)
    except SurfBenchError as exc:
        if STATE["debug"]:
            raise
        console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click-style usage errors (typer vendors click) carry show/exit_code
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(0)


if __name__ == "__main__":
    main()
