"""Losses shared by the methods. All return one value per item or per slot; callers reduce."""

from __future__ import annotations

import torch

EPS = 1e-8


def mse(est: torch.Tensor, ref: torch.Tensor, item_ndim: int = 1) -> torch.Tensor:
    """Mean squared error over the last ``item_ndim`` dims."""
    return (est - ref).pow(2).flatten(-item_ndim).mean(-1)


INACTIVE = 1e-8  # a reference with less than this share of the mixture's energy is silent (-80 dB)


def thresholded_snr_loss(ref: torch.Tensor, est: torch.Tensor, tau: float = 1e-3,
                         mix: torch.Tensor | None = None) -> torch.Tensor:
    """MixIT audio loss: 10 log10(||y - y_hat||^2 + tau ||y||^2) - 10 log10 ||y||^2.

    tau = 10^-3 caps the SNR at 30 dB (Wisdom et al. 2020, MixIT). Sums over the last dim.
    With ``mix`` (the mixtures [B, T]), a silent reference (FUSS's inactive slots) gets the
    mixture-relative soft threshold of the FUSS recipe instead,
    10 log10(||y_hat||^2 + tau ||m||^2) - 10 log10 ||m||^2: bounded below by 10 log10 tau and
    above by the estimate's level relative to the mixture, so a silent slot cannot dominate the loss
    (the gradient is the FUSS recipe's; the constant -10 log10 ||m||^2 only puts it in dB).
    """
    ref_energy = ref.pow(2).sum(-1)
    err = (ref - est).pow(2).sum(-1)
    loss = 10 * torch.log10(err + tau * ref_energy + EPS) - 10 * torch.log10(ref_energy + EPS)
    if mix is None:
        return loss
    mix_energy = mix.pow(2).flatten(1).sum(-1).view(-1, *([1] * (ref_energy.ndim - 1)))
    silent = 10 * torch.log10(err + tau * mix_energy + EPS) - 10 * torch.log10(mix_energy + EPS)
    return torch.where(ref_energy <= INACTIVE * mix_energy, silent, loss)


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


def regression_loss(est: torch.Tensor, ref: torch.Tensor, modality: str, tau: float = 1e-3,
                    mix: torch.Tensor | None = None) -> torch.Tensor:
    """Per-signal regression loss: MSE over (C, H, W) for images, thresholded SNR over T for audio
    (silent references thresholded relative to ``mix`` when it is given)."""
    if modality == "audio":
        return thresholded_snr_loss(ref, est, tau, mix)
    return mse(est, ref, item_ndim=3)


def pairwise_regression_cost(est: torch.Tensor, ref: torch.Tensor, modality: str, tau: float = 1e-3,
                             mix: torch.Tensor | None = None):
    """cost[b, i, j] = regression_loss(est_i, ref_j) for slots [B, K, *S], for PIT."""
    return regression_loss(est.unsqueeze(2), ref.unsqueeze(1), modality, tau, mix)
