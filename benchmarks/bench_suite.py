"""The benchmark suite in one run, as figures and ratios (not a test).

    python benchmarks/bench_suite.py [--dataset mnist2-mini] [--preset quick] [--device auto] [--threads 1]

Prints, for one dataset and preset (fixed batch and network):
1. training: steps/s, mixtures/s and peak memory of every method, and each method's step cost
   relative to floss (SURF's extra cost is its teacher's sampling each step);
2. the SURF-step / FLOSS-step cost ratio at teacher NFE 1, 2 and 5;
3. the sampler: seconds per NFE per batch of the evaluation batch size (Euler, flow network);
4. evaluation throughput: scored mixtures/s of `surf_bench.engine.evaluate` for pit (one network call
   per item plus the metrics, without the learned-feature image metrics) on the validation split.
Peak memory is CUDA's max_memory_allocated on a GPU, and the peak resident set (VmHWM, reset
before each measurement) on Linux CPUs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from bench_train import build, measure

from surf_bench.data.base import mixture_sum
from surf_bench.engine.evaluate import evaluate
from surf_bench.engine.runner import pick_device
from surf_bench.engine.threads import set_threads

METHODS = "pit,floss,mixit,remixit,self_remixing,surf_rm,surf_sr"


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return
    try:  # Linux: "5" resets the peak RSS of this process
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def timed(fn, device: str, repeats: int) -> float:
    fn()  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist2-mini")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per method")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: auto)")
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--eval-items", type=int, default=64)
    args = parser.parse_args()
    device = pick_device(args.device)
    threads = set_threads(args.threads)
    print(f"dataset={args.dataset} preset={args.preset} device={device} threads={threads}")

    print("\n1. training")
    print(f"{'method':<15} {'steps/s':>8} {'mixtures/s':>11} {'peak MiB':>9} {'step cost / floss':>18}")
    rows = {}
    for name in args.methods.split(","):
        reset_peak(device)
        rows[name] = measure(name, args.dataset, args.preset, args.steps, device, {})
        rows[name]["peak"] = peak_mib(device)
    floss = rows.get("floss", {}).get("steps_per_s")
    for name, row in rows.items():
        ratio = f"{floss / row['steps_per_s']:18.2f}" if floss else f"{'-':>18}"
        print(f"{name:<15} {row['steps_per_s']:8.2f} {row['mixtures_per_s']:11.1f} {row['peak']:9.0f} {ratio}")

    print("\n2. SURF step / FLOSS step (same batch and network)")
    base = measure("floss", args.dataset, args.preset, args.steps, device, {})["steps_per_s"]
    for nfe in (1, 2, 5):
        cells = []
        for name in ("surf_rm", "surf_sr"):
            # teacher_warmup 0: the teacher samples with NFE steps from the first step
            rate = measure(name, args.dataset, args.preset, args.steps, device,
                           {"unsup.teacher_nfe": nfe, "unsup.teacher_warmup": 0})["steps_per_s"]
            cells.append(f"{name} {base / rate:.2f}x")
        print(f"teacher NFE {nfe}: " + "  ".join(cells))

    print("\n3. sampler (floss network, Euler)")
    adapter, method, cfg, _ = build("floss", args.dataset, args.preset, device, {})
    method.net.eval()
    batch = adapter.open("valid", adapter.default_root())
    index = torch.arange(min(cfg.eval.batch_size, len(batch)))
    mix = mixture_sum(batch.mixtures(index), batch.spec).to(device)
    per_call = {}
    for nfe in (1, 5, 25):
        with torch.inference_mode():
            per_call[nfe] = timed(lambda n=nfe: method.sample(method.net, mix, adapter.n_slots, n), device,
                                  repeats=2)
    for nfe, seconds in per_call.items():
        print(f"NFE {nfe:>2}: {seconds:.3f} s per batch of {len(index)}, {seconds / nfe:.4f} s per NFE")

    print("\n4. evaluation throughput (pit, one call per item, metrics included)")
    # PSNR / SI-SDR(i) and the cheap metrics; the learned-feature ones (FID, LPIPS, classifier) are off
    adapter, method, cfg, _ = build("pit", args.dataset, args.preset, device,
                                 {"eval.n_items": args.eval_items, "eval.fid_items": 0, "eval.lpips_items": 0,
                                  "eval.cls_items": 0})
    method.net.eval()
    split = adapter.open("valid", adapter.default_root())
    start = time.perf_counter()
    evaluate(method, split, cfg, device)
    seconds = time.perf_counter() - start
    print(f"{args.eval_items} items in {seconds:.1f} s: {args.eval_items / seconds:.1f} mixtures/s")


if __name__ == "__main__":
    main()
