"""Permutation-invariant training (PIT): pairwise costs and the exact best assignment.

For K slots, ``cost[b, i, j] = loss(est_i, ref_j)``; the best permutation minimises
sum_i cost[b, i, pi(i)]. K <= 6: exhaustive over all K! permutations, vectorised; larger K: the
Hungarian algorithm (scipy.optimize.linear_sum_assignment), exact either way.
"""

from __future__ import annotations

import itertools
from functools import cache

import torch


@cache
def _all_permutations(k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(k))), dtype=torch.long)


def pairwise_mse(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """cost[b, i, j] = mean((est[b, i] - ref[b, j])^2), via ||a||^2 + ||b||^2 - 2 a.b."""
    a = est.flatten(2)
    b = ref.flatten(2)
    dim = a.shape[-1]
    cost = (a * a).sum(-1)[:, :, None] + (b * b).sum(-1)[:, None, :] - 2 * a @ b.transpose(1, 2)
    return cost.clamp_min(0) / dim


def best_permutation(cost: torch.Tensor) -> torch.Tensor:
    """perm[b, i] = index of the reference assigned to estimate i (minimum total cost)."""
    batch, k, _ = cost.shape
    if k <= 6:
        perms = _all_permutations(k).to(cost.device)  # [P, K]
        totals = cost[:, torch.arange(k, device=cost.device)[None, :], perms].sum(-1)  # [B, P]
        return perms[totals.argmin(-1)]
    from scipy.optimize import linear_sum_assignment

    rows = [torch.as_tensor(linear_sum_assignment(c.detach().cpu().numpy())[1]) for c in cost]
    return torch.stack(rows).to(cost.device)


def permute_slots(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """out[b, i] = x[b, perm[b, i]]."""
    index = perm.view(*perm.shape, *([1] * (x.ndim - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, index)


def invert_permutation(perm: torch.Tensor) -> torch.Tensor:
    inverse = torch.empty_like(perm)
    inverse.scatter_(1, perm, torch.arange(perm.shape[1], device=perm.device).expand_as(perm))
    return inverse


def pit_align(est: torch.Tensor, ref: torch.Tensor, cost: torch.Tensor | None = None) -> torch.Tensor:
    """References reordered to match the estimates under the best permutation (no grad)."""
    with torch.no_grad():
        perm = best_permutation(pairwise_mse(est, ref) if cost is None else cost)
    return permute_slots(ref, perm)
