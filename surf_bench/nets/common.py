"""Pieces shared by the backbones: time embedding and the slot-exchange layer."""

from __future__ import annotations

import math

import torch
from torch import nn


class TimeEmbedding(nn.Module):
    """Sinusoidal features of t in [0, 1] followed by a 2-layer MLP."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / max(half - 1, 1))
        angles = 1000.0 * t[:, None] * freqs[None, :]
        features = torch.cat([angles.sin(), angles.cos()], dim=-1)
        return self.mlp(features)


class SlotExchange(nn.Module):
    """h_k <- h_k + W mean_j h_j (DeepSets); permutation-equivariant over slots."""

    def __init__(self, channels: int, conv=nn.Conv2d):
        super().__init__()
        self.proj = conv(channels, channels, 1)

    def forward(self, h: torch.Tensor, n_slots: int) -> torch.Tensor:
        grouped = h.view(-1, n_slots, *h.shape[1:])
        pooled = self.proj(grouped.mean(1))  # [B, C, *spatial]
        return (grouped + pooled.unsqueeze(1)).view_as(h)


def group_count(channels: int) -> int:
    for groups in (8, 4, 2):
        if channels % groups == 0:
            return groups
    return 1
