"""Training throughput against thread count and OpenMP wait policy, on a quiet and a busy machine.

    python benchmarks/bench_threads.py [--methods pit,floss] [--steps 40] [--repeats 3]

For each OpenMP wait policy (libgomp's default, spin a while then sleep: torch is imported before
surf_bench, so libgomp starts with OMP_WAIT_POLICY unset; PASSIVE: what surf_bench sets) and each
thread setting (1, 2, auto = train.threads 0), it runs benchmarks/bench_train.py in a fresh process
and prints steps/s (median of ``--repeats``), first on the quiet machine, then while one other
1-thread training process runs (the "busy" machine of docs/architecture.md, "Environment").
Not a test: it prints figures; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).with_name("bench_train.py")


def steps_per_second(method: str, steps: int, threads: int, policy: str, dataset: str, preset: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy == "default":  # libgomp reads the environment when torch loads it, before surf_bench sets it
        launch = [sys.executable, "-c", "import runpy, sys, torch; sys.argv = sys.argv[1:]; "
                  "runpy.run_path(sys.argv[0], run_name='__main__')"]
    else:
        env["OMP_WAIT_POLICY"] = policy
        launch = [sys.executable]
    out = subprocess.run([*launch, str(BENCH), "--methods", method, "--steps", str(steps), "--threads",
                          str(threads), "--dataset", dataset, "--preset", preset, "--device", "cpu"],
                         env=env, capture_output=True, text=True, check=True).stdout
    row = [line.split() for line in out.splitlines() if line.startswith(method + " ")][0]
    return float(row[1])


def background_job(dataset: str, preset: str) -> subprocess.Popen:
    """One other 1-thread training process that runs until killed."""
    return subprocess.Popen([sys.executable, str(BENCH), "--methods", "pit", "--steps", "1000000", "--threads", "1",
                             "--dataset", dataset, "--preset", preset, "--device", "cpu"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="pit,floss")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="mnist2-mini")
    parser.add_argument("--preset", default="quick")
    args = parser.parse_args()
    print(f"cores={os.cpu_count()} dataset={args.dataset} preset={args.preset} steps={args.steps} "
          f"repeats={args.repeats}; steps/s, median (min-max)")
    print(f"{'machine':<7} {'method':<7} {'policy':<8} {'threads':>7} {'steps/s':>8} {'range':>13}")
    for machine in ("quiet", "busy"):
        load = background_job(args.dataset, args.preset) if machine == "busy" else None
        if load:
            time.sleep(5)  # past its start-up
        try:
            for method in args.methods.split(","):
                for policy in ("default", "PASSIVE"):
                    for threads in (1, 2, 0):
                        runs = [steps_per_second(method, args.steps, threads, policy, args.dataset, args.preset)
                                for _ in range(args.repeats)]
                        label = "auto" if threads == 0 else str(threads)
                        print(f"{machine:<7} {method:<7} {policy:<8} {label:>7} {statistics.median(runs):8.2f} "
                              f"{min(runs):6.2f}-{max(runs):<6.2f}", flush=True)
        finally:
            if load:
                load.kill()
                load.wait()


if __name__ == "__main__":
    main()
