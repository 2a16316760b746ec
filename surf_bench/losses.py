"""Losses shared by the methods. All return one value per item or per slot; callers reduce."""

from __future__ import annotations

import torch

EPS = 1e-8


def mse(est: torch.Tensor, ref: torch.Tensor, item_ndim: int = 1) -> torch.Tensor:
    """Mean squared error over the last ``item_ndim`` dims."""
    return (est - ref).pow(2).flatten(-item_ndim).mean(-1)


def thresholded_snr_loss(ref: torch.Tensor, est: torch.Tensor, tau: float = 1e-3) -> torch.Tensor:
    """MixIT audio loss: 10 log10(||y - y_hat||^2 + tau ||y||^2) - 10 log10 ||y||^2.

    tau = 10^-3 caps the SNR at 30 dB (Wisdom et al. 2020, MixIT). Sums over the last dim.
    """
    ref_energy = ref.pow(2).sum(-1)
    err = (ref - est).pow(2).sum(-1)
    return 10 * torch.log10(err + tau * ref_energy + EPS) - 10 * torch.log10(ref_energy + EPS)


def si_sdr(est: torch.Tensor, ref: torch.Tensor, zero_mean: bool = True) -> torch.Tensor:
    """SI-SDR in dB over the last dim (Le Roux et al. 2019): alpha = <s_hat, s> / ||s||^2."""
    if zero_mean:
        est = est - est.mean(-1, keepdim=True)
        ref = ref - ref.mean(-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + EPS)
    target = alpha * ref
    noise = est - target
    return 10 * torch.log10((target.pow(2).sum(-1) + EPS) / (noise.pow(2).sum(-1) + EPS))


def neg_si_sdr_clamped(est: torch.Tensor, ref: torch.Tensor, clamp_db: float = 30.0) -> torch.Tensor:
    """ReMixIT loss: -SI-SDR clamped to [-clamp_db, clamp_db]."""
    return (-si_sdr(est, ref)).clamp(-clamp_db, clamp_db)


def regression_loss(est: torch.Tensor, ref: torch.Tensor, modality: str, tau: float = 1e-3) -> torch.Tensor:
    """Per-signal regression loss: MSE over (C, H, W) for images, thresholded SNR over T for audio."""
    if modality == "audio":
        return thresholded_snr_loss(ref, est, tau)
    return mse(est, ref, item_ndim=3)


def pairwise_regression_cost(est: torch.Tensor, ref: torch.Tensor, modality: str, tau: float = 1e-3):
    """cost[b, i, j] = regression_loss(est_i, ref_j) for slots [B, K, *S], for PIT."""
    return regression_loss(est.unsqueeze(2), ref.unsqueeze(1), modality, tau)
