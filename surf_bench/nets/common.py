"""Pieces shared by the backbones: time embedding, slot exchange and the slot code."""

from __future__ import annotations

import math
from functools import lru_cache

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


@lru_cache(maxsize=8)
def fixed_gaussian(rows: int, cols: int, device: str, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """A seeded N(0, 1) matrix [rows, cols], the same on every call and machine (cached)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=generator).to(device=device, dtype=dtype)


class SlotCode(nn.Module):
    """c_k = G (x_k - s_bar) / ||x_k - s_bar||, embedded and added to the slot's time embedding.

    G is a fixed seeded Gaussian matrix [dim, N]. At t = 0 the slots differ only by the noise
    Pp z, which the slot mean cancels, so a per-sample noise gives no global cue for which source a
    slot should take; the code is one: a few scalars per slot, N(0, 1) at t = 0, that the network
    can sort slots by (pit overfitting 8 speech2-mini mixtures: the loss stays at the x0 = m/2
    plateau, -2.6 dB, for 300 steps without the code and falls to -11 dB with it). It depends on
    the slot's own state only, so the net stays permutation-equivariant, and along a sampled path
    the code changes smoothly with x_t.
    """

    SEED = 20260101

    def __init__(self, dim: int, embed_dim: int):
        super().__init__()
        self.dim = dim
        self.embed = nn.Linear(dim, embed_dim)

    def basis(self, size: int, device, dtype) -> torch.Tensor:
        return fixed_gaussian(self.dim, size, str(device), dtype, self.SEED)

    def code(self, x: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        """x [B, K, *S], s_bar [B, *S] -> c [B*K, dim]."""
        deviation = (x - s_bar.unsqueeze(1)).flatten(2).flatten(0, 1)  # [B*K, N]
        basis = self.basis(deviation.shape[1], deviation.device, deviation.dtype)
        return deviation @ basis.T / deviation.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def forward(self, x: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        """The embedded code [B*K, embed_dim]."""
        return self.embed(self.code(x, s_bar))


class SlotPositions(nn.Module):
    """A learned embedding per slot position, added to the slot's time embedding.

    A table of ``rows`` embeddings (2K: the same weights serve K slots and MixIT's 2K); slot k of a
    call with n slots takes row k. It gives each output slot a fixed role, as the separators with
    fixed output heads do (Conv-TasNet, Sudo rm -rf, TF-GridNet), so the net is no longer
    permutation-equivariant: PIT, PIT-FM and MixIT still choose the assignment per batch, and the
    zero-sum projection still makes every estimate sum to the mixture (docs/architecture.md,
    "Networks"). Initialised N(0, 1), so the slots differ from the first step.
    """

    def __init__(self, rows: int, embed_dim: int):
        super().__init__()
        self.table = nn.Parameter(torch.randn(rows, embed_dim))

    def forward(self, batch: int, n_slots: int) -> torch.Tensor:
        """[batch * n_slots, embed_dim]: rows 0..n_slots-1, repeated per item."""
        if n_slots > len(self.table):
            raise ValueError(f"{n_slots} slots but only {len(self.table)} slot positions (net.slot_positions)")
        return self.table[:n_slots].repeat(batch, 1)
