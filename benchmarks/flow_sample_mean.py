"""Is a falling NFE curve a sampler defect or the price of sampling? The mean of M flow samples
against one sample, on a trained flow cell, validation split.

    python benchmarks/flow_sample_mean.py --method floss --dataset speech2-mini \
        --variant tasnet-positions-x1-level --nfe 1,5,25 --samples 8 --items 100

For an exact posterior sampler the expected squared error of one sample is twice that of the
posterior mean, E||x - x_s||^2 = 2 E||x - E[x | mix]||^2, so a flow whose one-step estimate is the
posterior mean (NFE 1: x1_hat(x0, 0) = E[x1 | mix] for the FLOSS bridge) loses about 3 dB of SDR
from NFE 1 to a high NFE, however good it is (the oracle study measures 3.00 dB for the exact
posterior sample on gmm2: benchmarks/results/oracle_gmm2_valid.md). The mean of M samples has
(1 + 1/M) times the posterior mean's error: about 0.5 dB from it at M = 8. So if the mean of M
samples at NFE n scores near or above NFE 1, the flow samples a posterior around the right mean and
the fall is the price of a sample; if it stays far below, the samples themselves are off (a sampler
or training defect). Samples are aligned to the first by the best slot permutation (maths/pit.py)
before averaging; the average of mixture-consistent estimates is mixture-consistent. Scored by the
harness's own evaluate() on the same items with the same noise seeds. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from surf_bench.data.splits import open_split
from surf_bench.engine.evaluate import evaluate
from surf_bench.engine.runner import CellRequest, load_trained_cell
from surf_bench.engine.threads import set_threads
from surf_bench.maths.pit import pit_align
from surf_bench.metrics.aggregate import bootstrap_ci


def sample_mean(separate, samples: int):
    """``separate`` replaced by the mean of ``samples`` draws, each aligned to the first."""

    def averaged(mix, nfe=None, generator=None):
        first = separate(mix, nfe=nfe, generator=generator)
        total = first.clone()
        for _ in range(samples - 1):
            total += pit_align(first, separate(mix, nfe=nfe, generator=generator))
        return total / samples

    return averaged


def paired(a: np.ndarray, b: np.ndarray) -> str:
    """Mean paired difference a - b with its item-bootstrap 95% interval."""
    low, high = bootstrap_ci(a - b, n_boot=2000)
    return f"{(a - b).mean():+.2f} [{low:+.2f}, {high:+.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="floss")
    parser.add_argument("--dataset", default="speech2-mini")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--variant", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/ab"))
    parser.add_argument("--nfe", default="1,5,25")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--items", type=int, default=100)
    args = parser.parse_args()
    set_threads(1)
    request = CellRequest(args.method, args.dataset, args.preset, args.seed, {"train.threads": 1}, args.out,
                          variant=args.variant, split="valid")
    method, r = load_trained_cell(request)
    split = open_split(r.adapter, args.dataset, "valid", r.root, args.seed)
    cfg = r.cfg
    cfg.eval.n_items = args.items
    for key in ("sdr_items", "pesq_items", "fid_items", "lpips_items", "cls_items"):
        setattr(cfg.eval, key, 0)  # the headline metric only
    nfes = tuple(int(n) for n in args.nfe.split(","))
    scores = {}
    separate = method.separate
    for label, samples in (("one sample", 1), (f"mean of {args.samples}", args.samples)):
        method.separate = sample_mean(separate, samples) if samples > 1 else separate
        for nfe in nfes:
            cfg.flow.nfe_curve, cfg.flow.nfe = (nfe,), nfe
            result = evaluate(method, split, cfg, "cpu")
            metric = "si_sdri" if "si_sdri" in result["metrics"] else next(iter(result["metrics"]))
            scores[label, nfe] = result["items"][metric].to_numpy()
            print(f"{args.method} {args.variant} {label:>12} NFE {nfe:>2}: {metric} {scores[label, nfe].mean():.2f}",
                  flush=True)
    method.separate = separate
    first = ("one sample", nfes[0])
    for key, values in scores.items():
        if key != first:
            print(f"{key[0]:>12} NFE {key[1]:>2} - one sample NFE {nfes[0]}: {paired(values, scores[first])}")

if __name__ == "__main__":
    main()
