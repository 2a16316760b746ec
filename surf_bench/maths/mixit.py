"""MixIT maths (Wisdom et al. 2020): the assignment search and test-time source selection.

A mixture of mixtures mm = m_1 + m_2 is separated into M outputs s_hat. An assignment A is a
binary 2 x M matrix whose columns sum to 1 (each output goes to one mixture): 2^M of them. The
loss is min_A sum_i L(m_i, (A s_hat)_i). All 2^M losses come from the Gram matrix of the outputs
and their inner products with the mixtures, so no [2^M, T] tensor is ever built:
||m_i - A_i s||^2 = ||m_i||^2 - 2 A_i <s, m_i> + A_i G A_i^T.
"""

from __future__ import annotations

from functools import cache

import torch

from .losses import EPS


@cache
def assignments(n_outputs: int, n_mixtures: int = 2) -> torch.Tensor:
    """All assignment matrices [n_mixtures ** M, n_mixtures, M] (binary, columns sum to 1)."""
    codes = torch.arange(n_mixtures ** n_outputs)
    digits = torch.stack([(codes // n_mixtures ** j) % n_mixtures for j in range(n_outputs)], dim=1)
    return torch.nn.functional.one_hot(digits, n_mixtures).permute(0, 2, 1).float()  # [A, I, M]


def remix_errors(est: torch.Tensor, mixtures: torch.Tensor):
    """Squared errors ||m_i - (A s_hat)_i||^2 for every assignment: [B, A, I], and ||m_i||^2 [B, I]."""
    s = est.flatten(2)  # [B, M, D]
    m = mixtures.flatten(2)  # [B, I, D]
    gram = s @ s.transpose(1, 2)  # [B, M, M]
    cross = s @ m.transpose(1, 2)  # [B, M, I]
    energy = m.pow(2).sum(-1)  # [B, I]
    a = assignments(est.shape[1], mixtures.shape[1]).to(est)  # [A, I, M]
    quad = torch.einsum("aim,bmn,ain->bai", a, gram, a)
    lin = torch.einsum("aim,bmi->bai", a, cross)
    return (energy[:, None, :] - 2 * lin + quad).clamp_min(0), energy


def mixit_loss(est: torch.Tensor, mixtures: torch.Tensor, modality: str, tau: float = 1e-3) -> torch.Tensor:
    """min over assignments of sum_i L(m_i, (A s_hat)_i); L = MSE (images) or thresholded SNR (audio)."""
    errors, energy = remix_errors(est, mixtures)
    if modality == "audio":
        per = 10 * torch.log10(errors + tau * energy[:, None, :] + EPS) - 10 * torch.log10(energy[:, None, :] + EPS)
    else:
        per = errors / est[0, 0].numel()
    return per.sum(-1).min(dim=1).values.mean()


def best_assignment(est: torch.Tensor, mixtures: torch.Tensor) -> torch.Tensor:
    """Index of the least-squares assignment per item [B] (for inspection and tests)."""
    errors, _ = remix_errors(est, mixtures)
    return errors.sum(-1).argmin(dim=1)


def mixture_consistency(est: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """s_k += (m - sum_j s_j) / K: the closest estimates (L2) that sum to the mixture."""
    return est + ((mix - est.sum(1)) / est.shape[1]).unsqueeze(1)


def top_k_consistent(est: torch.Tensor, k: int, mix: torch.Tensor) -> torch.Tensor:
    """Keep the K most energetic of M outputs, then enforce mixture consistency."""
    energy = est.flatten(2).pow(2).sum(-1)  # [B, M]
    keep = energy.topk(k, dim=1).indices.sort(dim=1).values
    chosen = torch.gather(est, 1, keep.view(*keep.shape, *([1] * (est.ndim - 2))).expand(-1, -1, *est.shape[2:]))
    return mixture_consistency(chosen, mix)
