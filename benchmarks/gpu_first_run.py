"""The first run on a lent GPU (docs/gpu.md): one prepared script, a few minutes, every figure in --out.

    python benchmarks/gpu_first_run.py --out "$OUT" --minutes 7 --device cuda
    python benchmarks/gpu_first_run.py --out /tmp/dry --tiny --device cpu      # the dry run (a test runs it)

1. the machine: torch, CUDA, the device (env.json);
2. throughput of the paper preset on mnist2-mini (28 x 28 digits, as the paper's MNIST; offline):
   steps/s, GFLOP/s and the hours a 200k-step cell would take, for pit, floss and surf_sr
   (throughput.csv);
3. the most informative cells, ``--parallel`` at a time through the job pool (these cells are small:
   a GPU trains several at once about as fast as one), until the budget is spent: the oracle set
   gmm2 at `long` (mixit, pit, floss, self_remixing, surf_sr, remixit, surf_rm; seed 0; validation
   split: the share of the gap to the Bayes optimum and the spread ratio of each method), then
   mnist2-mini at `long`; a remixer starts once its MixIT cell is done; at the deadline the running
   cells stop at a checkpoint (cells/; cells.tar.gz with their checkpoints, to resume them elsewhere
   with the same command's cells; the scores alone in archive/);
4. summary.md: the throughput and the cells' scores.
Nothing needs the internet: both datasets are offline. --tiny swaps in the smoke preset and a few
steps so that the whole script runs on a CPU in about a minute.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import time
from pathlib import Path

import pandas as pd
import torch

from surf_bench import registry
from surf_bench.engine.runner import CellRequest, pick_device
from surf_bench.engine.threads import per_process
from surf_bench.orchestration.launch import run_request
from surf_bench.orchestration.pool import INHERIT, Job, JobPool, make_executor
from surf_bench.results.archive import archive_scores

ORDER = ["mixit", "pit", "floss", "self_remixing", "surf_sr", "remixit", "surf_rm"]
THROUGHPUT_METHODS = ("pit", "floss", "surf_sr")
DATASETS = ("gmm2", "mnist2-mini")


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
    parser.add_argument("--parallel", type=int, default=8, help="cells in flight at once")
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

    cells = out / "cells"
    overrides = {"train.steps": 20} if args.tiny else {}
    jobs = out / "jobs"
    pool = JobPool(make_executor("local", jobs, threads=per_process(args.parallel), gpus=INHERIT,
                                 timeout_min=max(1, int(args.minutes) + 5)), args.parallel, jobs, log=print)
    for dataset in DATASETS[:1] if args.tiny else DATASETS:
        for method in ORDER:
            init = registry.get_method(method).init_from
            request = CellRequest(method, dataset, cell_preset, 0, {**overrides,
                                  "train.threads": per_process(args.parallel)}, cells, device, split="valid")
            pool.add(Job(f"{dataset}/{method}", run_request, (request,),
                         after=f"{dataset}/{init}" if init else None, label=f"{dataset} {method}"))
    pool.run(poll_seconds=1.0, until=deadline - 30)  # 30 s to stop at a checkpoint and pack up
    done = []
    for key, state in pool.state.items():
        dataset, method = key.split("/")
        metrics = state.get("metrics") or {}
        done.append({"dataset": dataset, "method": method, "state": state["state"],
                     **{k: metrics.get(k) for k in ("psnr", "mmse_gap_db", "spread_ratio", "posterior_sw")}})
    if cells.is_dir():
        shutil.make_archive(str(out / "cells"), "gztar", root_dir=out, base_dir="cells")
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
