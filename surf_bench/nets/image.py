"""Image backbone: a small U-Net applied per slot with shared weights.

Each slot sees [x_k, s_bar] (2C channels); slots exchange information through their mean after
every residual block; t enters by FiLM (scale and shift) in every block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import SlotExchange, TimeEmbedding, group_count


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, time_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(group_count(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(time_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(group_count(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.exchange = SlotExchange(c_out)

    def forward(self, h, temb, n_slots):
        out = self.conv1(F.silu(self.norm1(h)))
        scale, shift = self.film(temb).chunk(2, dim=-1)
        out = self.norm2(out) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        out = self.conv2(F.silu(out))
        return self.exchange(out + self.skip(h), n_slots)


class SlotUNet(nn.Module):
    def __init__(self, in_channels: int = 1, channels: int = 32, levels: int = 2, time_dim: int = 64):
        super().__init__()
        self.in_channels = in_channels
        self.levels = levels
        self.time = TimeEmbedding(time_dim)
        widths = [channels * min(2 ** i, 2) for i in range(levels + 1)]
        self.stem = nn.Conv2d(2 * in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList(ResBlock(widths[i], widths[i + 1], time_dim) for i in range(levels))
        self.mid = ResBlock(widths[-1], widths[-1], time_dim)
        self.up = nn.ModuleList(ResBlock(widths[i + 1] + widths[i + 1], widths[i], time_dim)
                                for i in reversed(range(levels)))
        self.head = nn.Conv2d(widths[0] + widths[0], in_channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        batch, n_slots = x.shape[:2]
        spatial = x.shape[-2:]
        cond = s_bar.unsqueeze(1).expand_as(x)
        h = torch.cat([x, cond], dim=2).flatten(0, 1)  # [B*K, 2C, H, W]
        multiple = 2 ** self.levels
        pad_h, pad_w = (-spatial[0]) % multiple, (-spatial[1]) % multiple
        if pad_h or pad_w:
            h = F.pad(h, (0, pad_w, 0, pad_h))
        temb = self.time(t).repeat_interleave(n_slots, dim=0)
        h = self.stem(h)  # full resolution: one convolution in, one out (the cost is in the levels below)
        skips = [h]
        for block in self.down:
            h = block(F.avg_pool2d(h, 2), temb, n_slots)
            skips.append(h)
        h = self.mid(h, temb, n_slots)
        for i, block in enumerate(self.up):
            h = block(torch.cat([h, skips[-1 - i]], dim=1), temb, n_slots)
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.head(torch.cat([h, skips[0]], dim=1))
        h = h[..., : spatial[0], : spatial[1]]
        return h.view(batch, n_slots, *h.shape[1:])
