"""How close the Bayes reference row is to the Bayes optimum (a benchmark, not a test).

The "Bayes posterior mean" row of the oracle sets is the PIT-aligned posterior mean: the fixed point
x_hat = mean_i pi_i x_i of Lloyd iterations over n exact samples x_i, started from the mean of the
most probable class tuple (surf_bench/oracle/posterior.py). Two things can keep it from the optimum
argmin E[min_pi ||x_hat - pi x||^2 | y]: a local fixed point, and the Monte Carlo error of n samples.
For the test mixtures of a dataset this prints, as PIT-MSE against the true sources (what the table
scores) and as the expected PIT loss under fresh exact samples (what the estimate minimises):

1. the evaluator's estimate (n = 128, the evaluator's BAYES_SAMPLES) against n = --samples (1024);
2. the fixed point from the best tuple against the best of restarts from the next most probable
   tuples and from single exact samples (a fixed point that another start beats is a local one);
3. the plain posterior mean y / K (what ignoring PIT gives) and one exact sample.

Usage: python benchmarks/oracle_bayes_check.py [--dataset gmm2] [--items 200] [--restarts 4] [--samples 1024]
"""

from __future__ import annotations

import argparse
import time

import torch

from surf_bench import registry
from surf_bench.maths.pit import best_permutation, pairwise_mse, permute_slots


def pit_loss(estimate: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """Per item: mean over samples [B, n, K, D] of min_pi ||estimate - pi x||^2 / (K D)."""
    b, n, k, d = samples.shape
    cost = pairwise_mse(estimate.repeat_interleave(n, 0), samples.reshape(b * n, k, d))
    return cost.gather(2, best_permutation(cost).unsqueeze(-1)).view(b, n, k).mean((1, 2))


def lloyd(start: torch.Tensor, samples: torch.Tensor, iters: int = 50) -> torch.Tensor:
    b, n, k, d = samples.shape
    flat, estimate, previous = samples.reshape(b * n, k, d), start, None
    for _ in range(iters):
        perm = best_permutation(pairwise_mse(estimate.repeat_interleave(n, 0), flat))
        estimate = permute_slots(flat, perm).view(b, n, k, d).mean(1)
        if previous is not None and torch.equal(perm, previous):
            break
        previous = perm
    return estimate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="gmm2")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--samples", type=int, default=1024, help="samples of the reference estimate and the loss")
    args = parser.parse_args()
    split = registry.get_dataset(args.dataset).open("test")
    post = split.exact_posterior()
    index = torch.arange(min(args.items, len(split)))
    truth = split.sources_batch(index).double().flatten(2)
    y = split.mixtures(index).double().flatten(1) * split.spec.n_slots
    g = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    eval_samples = post.sample(y, 128, g)
    estimate = post.pit_mean(y, eval_samples)
    seconds = time.perf_counter() - started
    big = post.sample(y, args.samples, g)
    reference = post.pit_mean(y, big)
    fresh = post.sample(y, args.samples, g)

    def report(name, est):
        truth_mse = pit_loss(est, truth.unsqueeze(1)).mean().item()
        expected = pit_loss(est, fresh).mean().item()
        print(f"{name:<44} PIT-MSE vs truth {truth_mse:.6f}   expected PIT loss {expected:.6f}")
        return expected

    print(f"{args.dataset}: {len(index)} test mixtures, K={split.spec.n_slots}, D={post.dim}; "
          f"n=128 estimate in {seconds:.1f} s")
    base = report("Bayes row (n = 128, best-tuple start)", estimate)
    ref = report(f"n = {args.samples}, best-tuple start", reference)
    print(f"  Monte Carlo excess of n = 128: {100 * (base / ref - 1):+.2f}% of the expected loss")
    order = post.log_weights(y).argsort(1, descending=True)
    best_restart = torch.full((len(index),), float("inf"), dtype=torch.float64)
    for r in range(1, args.restarts + 1):
        for start in (post.component_means(y, post.tuples[order[:, r]]), big[:, r]):
            candidate = lloyd(start, big)
            best_restart = torch.minimum(best_restart, pit_loss(candidate, fresh))
    own = pit_loss(reference, fresh)
    better = (best_restart < own - 1e-9).float().mean().item()
    print(f"  restarts ({args.restarts} tuples + {args.restarts} samples, n = {args.samples}): better on "
          f"{100 * better:.1f}% of items; expected loss with the best start per item "
          f"{best_restart.minimum(own).mean().item():.6f}")
    report("plain posterior mean y / K", (y / split.spec.n_slots).unsqueeze(1).expand_as(truth))
    report("one exact sample", fresh[:, 0])


if __name__ == "__main__":
    main()
