"""Run the 7-method table on one dataset and print it (mean over seeds, wall time per cell).

    python benchmarks/quick_table.py --dataset mnist2-mini --preset quick --seeds 0,1 --out results/table
    python benchmarks/quick_table.py --summarise --out results/table      # only read finished cells

Cells are ordinary `surf-bench run` cells (resumable, reused when finished), so the script can be
stopped and started again, or the seeds split over processes (--seeds 0 in one, --seeds 1 in another).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

METHODS = ["mixit", "remixit", "self_remixing", "surf_rm", "surf_sr", "pit", "floss"]


def summarise(out: Path, dataset: str, preset: str) -> pd.DataFrame:
    rows = []
    for path in sorted(Path(out).glob(f"{dataset}/*/{preset}/seed*/metrics.json")):
        cell = json.loads(path.read_text())
        metric = "psnr" if cell["modality"] == "image" else "si_sdri"
        rows.append({"method": cell["method"], "seed": cell["seed"], metric: cell["metrics"][metric],
                     "mixture": cell["baseline"][metric], "train_s": cell["provenance"]["train_seconds"],
                     "nfe": cell.get("nfe"), "supervised": cell["supervised"]})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    metric = [c for c in ("psnr", "si_sdri") if c in frame][0]
    table = frame.groupby("method").agg(
        mean=(metric, "mean"), std=(metric, "std"), seeds=("seed", "count"), mixture=("mixture", "mean"),
        train_s=("train_s", "mean"), nfe=("nfe", "first"), supervised=("supervised", "first"))
    order = [m for m in METHODS if m in table.index]
    return table.loc[order].rename(columns={"mean": f"{metric}_mean", "std": f"{metric}_std"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist2-mini")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", type=Path, default=Path("results/table"))
    parser.add_argument("--set", action="append", default=[], help="config override key=value")
    parser.add_argument("--summarise", action="store_true", help="only print the table of finished cells")
    args = parser.parse_args()
    if not args.summarise:
        from surf_bench.config import parse_set_options
        from surf_bench.runner import CellRequest, run_cell

        overrides = parse_set_options(args.set)
        for seed in [int(s) for s in args.seeds.split(",")]:
            for method in args.methods.split(","):
                start = time.perf_counter()
                run_cell(CellRequest(method, args.dataset, args.preset, seed, overrides, args.out),
                         log=lambda *_: None)
                print(f"{method} seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
    table = summarise(args.out, args.dataset, args.preset)
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    table.to_csv(args.out / f"{args.dataset}_{args.preset}_table.csv", float_format="%.3f")


if __name__ == "__main__":
    main()
