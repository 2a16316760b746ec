"""The first run on a lent GPU (docs/gpu.md): one prepared script, a few minutes, every figure in --out.

    python benchmarks/gpu_first_run.py --out "$OUT" --minutes 7 --device cuda
    python benchmarks/gpu_first_run.py --out /tmp/dry --tiny --device cpu      # the dry run (a test runs it)

1. the machine: torch, CUDA, the device (env.json);
2. throughput of the paper preset on mnist2-mini (28 x 28 digits, as the paper's MNIST; offline):
   steps/s, GFLOP/s and the hours a 200k-step cell would take, for pit, floss and surf_sr
   (throughput.csv);
3. the most informative cells that fit the rest of the budget, in this order: the oracle set gmm2 at
   `long` (mixit, pit, floss, self_remixing, surf_sr, remixit, surf_rm; seed 0; validation split:
   the share of the gap to the Bayes optimum and the spread ratio of each method), then mnist2-mini
   at `long`; a cell starts only while the budget left exceeds its estimated time (cells/, its
   scores also archived without weights in archive/);
4. summary.md: the throughput and the oracle table.
Nothing needs the internet: both datasets are offline. --tiny swaps in the smoke preset and a few
steps so that the whole script runs on a CPU in about a minute.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import pandas as pd
import torch

from surf_bench.engine.runner import CellRequest, pick_device, run_cell
from surf_bench.results.archive import archive_scores

ORDER = ["mixit", "pit", "floss", "self_remixing", "surf_sr", "remixit", "surf_rm"]
THROUGHPUT_METHODS = ("pit", "floss", "surf_sr")


def bench_train():
    spec = importlib.util.spec_from_file_location("bench_train", Path(__file__).with_name("bench_train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def environment(device: str) -> dict:
    info = {"torch": torch.__version__, "device": device, "cuda": torch.version.cuda}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=7.0, help="the whole script's budget")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tiny", action="store_true", help="smoke preset, few steps: a dry run on CPU")
    args = parser.parse_args()
    started = time.monotonic()
    deadline = started + 60 * args.minutes
    device = pick_device(args.device)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "env.json").write_text(json.dumps(environment(device), indent=1))
    print(json.dumps(environment(device)), flush=True)

    preset, cell_preset, steps = ("smoke", "smoke", 5) if args.tiny else ("paper", "long", 100)
    measure = bench_train().measure
    rows = []
    for name in THROUGHPUT_METHODS:
        row = measure(name, "mnist2-mini", preset, steps, device, {"train.threads": 0})
        rows.append(row)
        print(f"throughput {name}: {row['steps_per_s']:.1f} steps/s, {row['gflop_per_s']:.1f} GFLOP/s, "
              f"{row['cell_hours']:.2f} h per {preset} cell", flush=True)
    throughput = pd.DataFrame(rows)
    throughput.to_csv(out / "throughput.csv", index=False)

    cells, done = out / "cells", []
    overrides = {"train.steps": 20, "train.threads": 0} if args.tiny else {"train.threads": 0}
    plan = [(dataset, method) for dataset in ("gmm2", "mnist2-mini") for method in ORDER]
    seconds_per_cell = None
    for dataset, method in plan:
        left = deadline - time.monotonic()
        if seconds_per_cell is not None and left < 1.2 * seconds_per_cell:
            print(f"stop: {left:.0f} s left, a cell takes about {seconds_per_cell:.0f} s", flush=True)
            break
        begun = time.monotonic()
        request = CellRequest(method, dataset, cell_preset, 0, dict(overrides), cells, device, split="valid")
        record = run_cell(request, log=lambda *_: None)
        took = time.monotonic() - begun
        seconds_per_cell = max(seconds_per_cell or 0.0, took)
        metrics = record["metrics"]
        done.append({"dataset": dataset, "method": method, "seconds": round(took, 1),
                     **{k: metrics.get(k) for k in ("psnr", "mmse_gap_db", "spread_ratio", "posterior_sw")}})
        print(f"{dataset} {method}: {took:.0f} s, psnr {metrics.get('psnr'):.2f}", flush=True)
    archive_scores(cells, out / "archive")
    summary = ["# First GPU run", "", "## Throughput", "", throughput.to_markdown(index=False) if hasattr(
        throughput, "to_markdown") and _has_tabulate() else throughput.to_string(index=False), "", "## Cells", "",
        pd.DataFrame(done).to_string(index=False), "", f"total {time.monotonic() - started:.0f} s"]
    (out / "summary.md").write_text("\n".join(summary) + "\n")
    print("\n".join(summary), flush=True)


def _has_tabulate() -> bool:
    return importlib.util.find_spec("tabulate") is not None


if __name__ == "__main__":
    main()
