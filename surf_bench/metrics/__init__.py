"""Functional separation metrics. ``score`` maps a batch of estimates to per-item metric rows."""

from __future__ import annotations

import numpy as np
import torch

from .audio import sisdr_pit
from .image import psnr_pit


def score(modality: str, est: torch.Tensor, refs: torch.Tensor, mix_sum: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-item metrics for estimates [B, K, *S] against references [B, K, *S]."""
    if modality == "image":
        return {"psnr": psnr_pit(est, refs).cpu().numpy()}
    si_sdr, si_sdri = sisdr_pit(est, refs, mix_sum)
    return {"si_sdr": si_sdr.cpu().numpy(), "si_sdri": si_sdri.cpu().numpy()}


HIGHER_IS_BETTER = {"psnr": True, "si_sdr": True, "si_sdri": True, "sdr": True, "pesq": True,
                    "fid": False, "lpips": False}
