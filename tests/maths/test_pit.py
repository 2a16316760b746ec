import itertools

import pytest
import torch

from surf_bench.maths.pit import best_permutation, invert_permutation, pairwise_mse, permute_slots


def brute_force(cost):
    k = cost.shape[-1]
    best = []
    for c in cost:
        perms = list(itertools.permutations(range(k)))
        totals = [sum(c[i, p[i]] for i in range(k)) for p in perms]
        best.append(min(totals))
    return torch.tensor(best)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7])
def test_best_permutation_matches_brute_force(k):
    torch.manual_seed(k)
    cost = torch.rand(6, k, k)
    perm = best_permutation(cost)
    totals = cost.gather(2, perm.unsqueeze(-1)).squeeze(-1).sum(-1)
    torch.testing.assert_close(totals, brute_force(cost).float())


def test_pairwise_mse_matches_direct_computation():
    a, b = torch.randn(2, 3, 10), torch.randn(2, 3, 10)
    direct = (a[:, :, None] - b[:, None, :]).pow(2).mean(-1)
    torch.testing.assert_close(pairwise_mse(a, b), direct, atol=1e-5, rtol=1e-5)


def test_permute_and_invert():
    x = torch.randn(4, 3, 5)
    perm = torch.stack([torch.randperm(3) for _ in range(4)])
    back = permute_slots(permute_slots(x, perm), invert_permutation(perm))
    torch.testing.assert_close(back, x)
