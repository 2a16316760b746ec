"""A small U-Net applied per slot with shared weights, in 1-D (audio frames) or 2-D (pixels).

Each slot sees [x_k, s_bar] (2C channels); slots exchange information through their mean after
every residual block (DeepSets), so the network is permutation-equivariant over slots and runs
with any number of slots; t enters by FiLM (scale and shift) in every block, and so does an
optional slot code (``slot_code`` > 0, see :class:`SlotCode`) that breaks the slot symmetry at t = 0,
or learned slot positions (``slot_positions`` > 0, :class:`SlotPositions`), which give up the
equivariance for a fixed role per output slot.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import SlotCode, SlotExchange, SlotPositions, TimeEmbedding, group_count

CONV = {1: nn.Conv1d, 2: nn.Conv2d}
POOL = {1: F.avg_pool1d, 2: F.avg_pool2d}


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, time_dim: int, dims: int):
        super().__init__()
        conv = CONV[dims]
        self.dims = dims
        self.norm1 = nn.GroupNorm(group_count(c_in), c_in)
        self.conv1 = conv(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(time_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(group_count(c_out), c_out)
        self.conv2 = conv(c_out, c_out, 3, padding=1)
        self.skip = conv(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.exchange = SlotExchange(c_out, conv)

    def forward(self, h, temb, n_slots):
        out = self.conv1(F.silu(self.norm1(h)))
        scale, shift = self.film(temb).view(len(h), -1, *([1] * self.dims)).chunk(2, dim=1)
        out = self.norm2(out) * (1 + scale) + shift
        out = self.conv2(F.silu(out))
        return self.exchange(out + self.skip(h), n_slots)


class SlotUNet(nn.Module):
    def __init__(self, in_channels: int = 1, channels: int = 32, levels: int = 2, time_dim: int = 64,
                 dims: int = 2, slot_code: int = 0, out_channels: int | None = None, slot_positions: int = 0):
        super().__init__()
        conv = CONV[dims]
        self.in_channels = in_channels
        self.levels = levels
        self.dims = dims
        self.time = TimeEmbedding(time_dim)
        self.code = SlotCode(slot_code, time_dim) if slot_code > 0 else None
        self.positions = SlotPositions(slot_positions, time_dim) if slot_positions > 0 else None
        widths = [channels * min(2 ** i, 2) for i in range(levels + 1)]
        self.stem = conv(2 * in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList(ResBlock(widths[i], widths[i + 1], time_dim, dims) for i in range(levels))
        self.mid = ResBlock(widths[-1], widths[-1], time_dim, dims)
        self.up = nn.ModuleList(ResBlock(2 * widths[i + 1], widths[i], time_dim, dims)
                                for i in reversed(range(levels)))
        self.head = conv(2 * widths[0], out_channels or in_channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        """x [B, K, C, *spatial], t [B], s_bar [B, C, *spatial] -> [B, K, C_out, *spatial]."""
        batch, n_slots = x.shape[:2]
        spatial = x.shape[3:]
        cond = s_bar.unsqueeze(1).expand_as(x)
        h = torch.cat([x, cond], dim=2).flatten(0, 1)  # [B*K, 2C, *spatial]
        multiple = 2 ** self.levels
        pads = []
        for size in reversed(spatial):
            pads += [0, (-size) % multiple]
        if any(pads):
            h = F.pad(h, pads)
        temb = self.time(t).repeat_interleave(n_slots, dim=0)
        if self.code is not None:
            temb = temb + self.code(x, s_bar)
        if self.positions is not None:
            temb = temb + self.positions(batch, n_slots)
        h = self.stem(h)  # full resolution: one convolution in, one out (the cost is in the levels below)
        skips = [h]
        for block in self.down:
            h = block(POOL[self.dims](h, 2), temb, n_slots)
            skips.append(h)
        h = self.mid(h, temb, n_slots)
        for i, block in enumerate(self.up):
            h = block(torch.cat([h, skips[-1 - i]], dim=1), temb, n_slots)
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.head(torch.cat([h, skips[0]], dim=1))
        h = h[(..., *[slice(0, size) for size in spatial])]
        return h.view(batch, n_slots, *h.shape[1:])
