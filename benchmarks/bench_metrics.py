"""Throughput of the evaluation metrics (a benchmark, not a test).

1. SI-SDR / SI-SDRi with PIT and the FUSS rules on a FUSS-sized eval set: 1000 mixtures x 4 slots x
   10 s at 16 kHz, 1-4 active sources, generated in chunks (target: under 30 s on 2 CPU cores).
2. The numpy BSS Eval SDR against mir_eval.separation.bss_eval_sources on a small subset: speed
   ratio and the largest difference.
3. Per-item cost of the slow extras (SDR, PESQ-WB) on FUSS-sized items.

Usage: python benchmarks/bench_metrics.py [--items 1000] [--chunk 50] [--sdr-items 1]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import torch

from surf_bench.data.base import DataSpec
from surf_bench.metrics import concat, per_item, score
from surf_bench.metrics.aggregate import aggregate_fuss
from surf_bench.metrics.bss import bss_eval_sources, sdr_aligned
from surf_bench.metrics.pesq_wb import pesq_wb

RATE = 16000
SPEC = DataSpec("fuss-like", "audio", 4, (10 * RATE,), "sum", RATE)


def fuss_like_chunk(n: int, k: int, length: int, generator: torch.Generator):
    """Sources with 1..k active slots (the rest all-zero), estimates = permuted sources + noise."""
    refs = torch.randn(n, k, length, generator=generator)
    active = torch.randint(1, k + 1, (n,), generator=generator)
    refs *= (torch.arange(k)[None, :] < active[:, None]).unsqueeze(-1)
    gain = 10 ** (torch.empty(n, k, 1).uniform_(-1.25, 0, generator=generator))  # -25..0 dB power
    refs *= gain
    perm = torch.argsort(torch.rand(n, k, generator=generator), 1)
    est = torch.gather(refs, 1, perm.unsqueeze(-1).expand_as(refs))
    est = est + 0.1 * torch.randn(est.shape, generator=generator) * est.std(-1, keepdim=True)
    return est, refs, refs.sum(1)


def bench_sisdr(items: int, chunk: int, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    raws, t_gen, t_score = [], 0.0, 0.0
    for start in range(0, items, chunk):
        t0 = time.perf_counter()
        est, refs, mix = fuss_like_chunk(min(chunk, items - start), 4, 10 * RATE, generator)
        t1 = time.perf_counter()
        raws.append(score(SPEC, est, refs, mix))
        t_score += time.perf_counter() - t1
        t_gen += t1 - t0
    t0 = time.perf_counter()
    frame = pd.DataFrame(per_item(SPEC, concat(raws), "fuss"))
    out, counts = aggregate_fuss(frame, [], n_boot=1000, n_slots=4)
    t_agg = time.perf_counter() - t0
    total = t_score + t_agg
    print(f"[1] FUSS protocol, {items} mixtures x 4 x 10 s @ 16 kHz, torch threads {torch.get_num_threads()}")
    print(f"    scoring {t_score:.2f} s + aggregation with 1000 bootstraps {t_agg:.2f} s = {total:.2f} s "
          f"({items / total:.0f} mixtures/s; data generation {t_gen:.2f} s not counted) "
          f"-> {'PASS' if total < 30 else 'FAIL'} (target < 30 s)")
    print(f"    si_sdr {out['si_sdr']:.2f}  si_sdri_msi {out['si_sdri_msi']:.2f}  "
          f"si_sdr_1src {out['si_sdr_1src']:.2f}  sep_equal {out['sep_equal']:.2f}  counts {counts}")


def bench_sdr_vs_mir_eval(items: int, n_src: int, seconds: float, seed: int = 1) -> None:
    from mir_eval.separation import bss_eval_sources as mir_bss

    rng = np.random.default_rng(seed)
    ours_t, mir_t, diff = 0.0, 0.0, 0.0
    for _ in range(items):
        refs = rng.standard_normal((n_src, int(seconds * RATE)))
        ests = (0.8 * np.eye(n_src) + 0.2) @ refs + 0.3 * rng.standard_normal(refs.shape)
        t0 = time.perf_counter()
        ours = bss_eval_sources(refs, ests)
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            theirs = mir_bss(refs, ests)
        t2 = time.perf_counter()
        ours_t, mir_t = ours_t + t1 - t0, mir_t + t2 - t1
        diff = max(diff, *(np.abs(np.asarray(a) - np.asarray(b)).max()
                           for a, b in zip(ours[:3], theirs[:3], strict=True)))
    print(f"[2] bss_eval_sources with permutation, {items} items x {n_src} sources x {seconds:g} s: "
          f"ours {ours_t / items:.2f} s/item, mir_eval {mir_t / items:.2f} s/item, "
          f"speed-up x{mir_t / ours_t:.1f}, max |diff| {diff:.2e} dB")


def bench_extras(items: int, seed: int = 2) -> None:
    generator = torch.Generator().manual_seed(seed)
    est, refs, _ = fuss_like_chunk(items, 4, 10 * RATE, generator)
    t0 = time.perf_counter()
    for b in range(items):
        sdr_aligned(refs[b].double().numpy(), est[b].double().numpy())
    t1 = time.perf_counter()
    for b in range(items):
        pesq_wb(refs[b, 0].double().numpy(), est[b, 0].double().numpy(), RATE)
    t2 = time.perf_counter()
    print(f"[3] per FUSS-sized item (4 x 10 s): SDR (aligned, 4 refs) {(t1 - t0) / items:.2f} s; "
          f"PESQ-WB {(t2 - t1) / items:.2f} s per 10 s pair")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--sdr-items", type=int, default=1)
    parser.add_argument("--sdr-sources", type=int, default=4)
    parser.add_argument("--sdr-seconds", type=float, default=10.0)
    args = parser.parse_args()
    bench_sisdr(args.items, args.chunk)
    bench_sdr_vs_mir_eval(args.sdr_items, args.sdr_sources, args.sdr_seconds)
    bench_extras(3)


if __name__ == "__main__":
    main()
