"""Image metrics. PSNR follows BASIS / LASS: per image, peak 1, pixels clamped to [0, 1], best
permutation of the estimates per mixture, averaged over the images of the mixture."""

from __future__ import annotations

import torch

from ..pit import best_permutation, pairwise_mse


def psnr(est: torch.Tensor, ref: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """10 log10(peak^2 / MSE) per image over the trailing (C, H, W) dims; MSE floored at 1e-10."""
    err = (est.clamp(0, peak) - ref).pow(2).flatten(-3).mean(-1)
    return 10 * torch.log10(peak ** 2 / err.clamp_min(1e-10))


def psnr_pit(est: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """Mean PSNR over the K images of each mixture, under the permutation of least MSE."""
    est = est.clamp(0, 1)
    # Best permutation by the sum of per-pair log-MSE (equivalent to maximising the mean PSNR).
    cost = pairwise_mse(est, refs).clamp_min(1e-10).log10()
    perm = best_permutation(cost)
    aligned = torch.gather(refs, 1, perm.view(*perm.shape, 1, 1, 1).expand_as(refs))
    return psnr(est, aligned).mean(1)
