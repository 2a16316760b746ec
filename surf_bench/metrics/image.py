"""Image metrics. PSNR follows BASIS / LASS: per image, peak 1, pixels clamped to [0, 1], best
permutation of the estimates per mixture, averaged over the images of the mixture:

    PSNR = 10 log10(peak^2 / MSE), MSE = mean over (C, H, W) of (clamp(est, 0, 1) - ref)^2, floored at 1e-10.

Sources that are not bounded pixels (``DataSpec.bounded`` False: the oracle sets) are scored with
``clamp=False``: the same formula without the clamp, so an estimate is never moved toward [0, 1].

The same permutation (least summed log-MSE, i.e. highest mean PSNR) aligns the pairs scored by LPIPS.
"""

from __future__ import annotations

import torch

from ..maths.pit import best_permutation, pairwise_mse, permute_slots


def psnr(est: torch.Tensor, ref: torch.Tensor, peak: float = 1.0, clamp: bool = True) -> torch.Tensor:
    """10 log10(peak^2 / MSE) per image over the trailing (C, H, W) dims; MSE floored at 1e-10."""
    err = ((est.clamp(0, peak) if clamp else est) - ref).pow(2).flatten(-3).mean(-1)
    return 10 * torch.log10(peak ** 2 / err.clamp_min(1e-10))


def image_permutation(est: torch.Tensor, refs: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """perm [B, K]: reference perm[b, i] goes with estimate i (highest mean PSNR)."""
    # Least sum of per-pair log-MSE = highest mean PSNR (the floor of psnr() is applied here too).
    cost = pairwise_mse(est.clamp(0, 1) if clamp else est, refs).clamp_min(1e-10).log10()
    return best_permutation(cost)


def align_images(est: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """References reordered to match the clamped estimates [B, K, C, H, W] under the best permutation."""
    return permute_slots(refs, image_permutation(est, refs))


def psnr_pit(est: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """Mean PSNR over the K images of each mixture, under the permutation of least MSE."""
    return psnr(est, align_images(est, refs)).mean(1)
