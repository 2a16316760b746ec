"""Audio metrics: SI-SDR and SI-SDRi with PIT (Le Roux et al. 2019)."""

from __future__ import annotations

import torch

from ..losses import si_sdr
from ..pit import best_permutation


def sisdr_pit(est: torch.Tensor, refs: torch.Tensor, mix_sum: torch.Tensor):
    """(SI-SDR, SI-SDRi) per item, averaged over slots under the permutation of highest SI-SDR."""
    pair = si_sdr(est.unsqueeze(2), refs.unsqueeze(1))  # [B, K(est), K(ref)]
    perm = best_permutation(-pair)
    best = pair.gather(2, perm.unsqueeze(-1)).squeeze(-1)  # [B, K]
    base = si_sdr(mix_sum.unsqueeze(1).expand_as(refs), refs)
    return best.mean(1), (best - base).mean(1)
