"""Run the cells of a params file and print the headline metric per method (mean and sd over seeds).

    python benchmarks/quick_table.py --params benchmarks/params/table_mnist2_mini_quick.yaml
    python benchmarks/quick_table.py --params P --cells 0,2,4        # a share of the cells (one process)
    python benchmarks/quick_table.py --params P --summarise           # only read finished cells

The split is the params file's (default valid); an A/B grid (several variants of one method) is
refused on test, which scores only final choices (docs/architecture.md, "Protocol"). Cells are ordinary
`surf-bench run --cell I` cells (resumable, reused when finished), so the script
can be stopped and started again, or the cells split over processes (a cell whose init cell is
being trained by another process waits for it). Results are read with surf_bench.results.reader.collect.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

METHODS = ["mixit", "remixit", "self_remixing", "surf_rm", "surf_sr", "pit", "floss"]


def summarise(root: Path, split: str, cells=None) -> pd.DataFrame:
    """Per (dataset, method, variant): the headline metric's mean and sd over seeds, the other
    metrics' means (LPIPS, the evaluator's acc_cls / fd_cls, ...), the mixture, training figures.
    ``cells`` (plan.expand of the params file) restricts it to the grid's own cells."""
    from surf_bench.results.reader import collect

    frame = collect(root)
    frame = frame[frame["split"] == split]
    if cells is not None and not frame.empty:
        wanted = {(c.dataset, c.method, c.preset, c.variant, int(c.seed)) for c in cells}
        keys = zip(frame["dataset"], frame["method"], frame["preset"], frame["variant"],
                   pd.to_numeric(frame["seed"]).astype(int), strict=True)
        frame = frame[[key in wanted for key in keys]]
    head = frame[frame["headline"]]
    if head.empty:
        return head
    table = head.groupby(["dataset", "method", "variant"]).agg(
        metric=("metric", "first"), mean=("mean", "mean"), sd=("mean", "std"), seeds=("seed", "count"),
        mixture=("baseline", "mean"), train_s=("train_seconds", "mean"), nfe=("nfe", "first"),
        train_mixtures=("train_mixtures", "first"), remix_error_db=("remix_error_db", "mean"))
    others = frame[~frame["headline"] & frame["mean"].notna()]
    if not others.empty:
        wide = others.pivot_table(index=["dataset", "method", "variant"], columns="metric", values="mean",
                                  aggfunc="mean")
        table = table.join(wide)
    order = {m: i for i, m in enumerate(METHODS)}
    return table.sort_index(key=lambda index: index.map(lambda v: order.get(v, len(order)))
                            if index.name == "method" else index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, required=True)
    parser.add_argument("--cells", default="", help="comma-separated cell indices (default: all)")
    parser.add_argument("--split", default=None, help="test | valid (default: the params file's, else valid)")
    parser.add_argument("--summarise", action="store_true", help="only print the table of finished cells")
    parser.add_argument("--csv", default="", help="where to write the table (default: <out>/summary_<split>.csv)")
    args = parser.parse_args()
    from surf_bench.engine.runner import run_cell
    from surf_bench.orchestration.plan import cell_request, expand, load_params

    params = load_params(args.params)
    split = args.split or params.get("split", "valid")
    variants = params.get("variants") or {}
    if split == "test" and any(len(v or {}) > 1 for v in variants.values()):
        # The protocol: options are compared on valid; test scores one grid of final choices.
        raise SystemExit(f"{args.params} has several variants of a method (an A/B grid): compare them with "
                         "--split valid; the test split scores only a grid of final choices")
    out = Path(params.get("out", "results"))
    if not args.summarise:
        cells = expand(params)
        chosen = [int(i) for i in args.cells.split(",")] if args.cells else range(len(cells))
        for index in chosen:
            start = time.perf_counter()
            run_cell(cell_request(cells[index], params, split=split), log=lambda *_: None)
            c = cells[index]
            print(f"cell {index} {c.method}/{c.variant}/seed{c.seed}: {time.perf_counter() - start:.0f} s", flush=True)
    table = summarise(out, split, expand(params))
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    target = Path(args.csv) if args.csv else out / f"summary_{split}.csv"
    table.to_csv(target, float_format="%.3f")
    print(f"written {target}")


if __name__ == "__main__":
    main()
