"""Sampler A/B at equal NFE on a trained flow cell (Euler against midpoint), validation split.

    python benchmarks/sampler_ab.py --method floss --dataset mnist2-mini --out results/ab [--variant default]

Loads the cell's model.pt, scores it on the validation split with each sampler over the NFE
curve (midpoint: NFE // 2 steps of 2 evaluations; NFE 1 is Euler for both) and prints the
headline metric and the paired per-item difference (midpoint - Euler, bootstrap 95%). Only the
sampler changes: the same weights, noise ends and items. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from surf_bench.data.splits import open_split
from surf_bench.engine.evaluate import evaluate
from surf_bench.engine.runner import CellRequest, load_trained_cell
from surf_bench.engine.threads import set_threads
from surf_bench.metrics.aggregate import bootstrap_ci


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="floss")
    parser.add_argument("--dataset", default="mnist2-mini")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--variant", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/ab"))
    parser.add_argument("--nfe", default="2,4,8")
    args = parser.parse_args()
    set_threads(1)
    request = CellRequest(args.method, args.dataset, args.preset, args.seed, {"train.threads": 1}, args.out,
                          variant=args.variant, split="valid")
    method, r = load_trained_cell(request)
    split = open_split(r.adapter, args.dataset, "valid", r.root, args.seed)
    cfg = r.cfg
    for key in ("fid_items", "lpips_items", "cls_items"):
        setattr(cfg.eval, key, 0)  # the headline metric only
    nfes = tuple(int(n) for n in args.nfe.split(","))
    cfg.flow.nfe_curve = nfes
    scores = {}
    for sampler in ("euler", "midpoint"):
        cfg.flow.sampler = sampler
        method.cfg.flow.sampler = sampler
        for nfe in nfes:
            cfg.flow.nfe = nfe
            result = evaluate(method, split, cfg, "cpu")
            metric = next(k for k in result["metrics"] if not k.endswith("_ci95"))
            scores[sampler, nfe] = result["items"][metric].to_numpy()
            print(f"{sampler:<9} NFE {nfe:>2}: {metric} {scores[sampler, nfe].mean():.3f}")
    for nfe in nfes:
        diff = scores["midpoint", nfe] - scores["euler", nfe]
        low, high = bootstrap_ci(diff, n_boot=2000)
        print(f"NFE {nfe:>2}: midpoint - euler {diff.mean():+.3f} [{low:+.3f}, {high:+.3f}] over {len(diff)} items")


if __name__ == "__main__":
    main()
