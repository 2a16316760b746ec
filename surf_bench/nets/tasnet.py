"""A TasNet-style slot separator for audio (``net.arch=tasnet``; docs/architecture.md, "Networks").

Conv-TasNet's parts (Luo & Mesgarani 2019: a learned encoder and decoder, a temporal convolutional
network of dilated depthwise-separable blocks, masks on the mixture's encoding), arranged for the
slot interface every method uses, net(x [B, K, T], t [B], s_bar [B, T]) -> velocity [B, K, T]:

- the trunk, a TCN over the mixture's encoding, runs once per mixture; its receptive field is
  1 + 2 * repeats * (2^dilations - 1) frames of ``hop`` samples (about 1 s at the defaults below);
- each slot's state x_k enters through its own encoder, joined with the trunk's features; a few
  per-slot blocks, conditioned on t and the slot by FiLM, exchange information through the slot
  mean (DeepSets) after every block;
- the head gives masks that sum to one over the slots (a softmax), applied to the mixture's
  encoding and decoded: x1_hat_k = dec(mask_k * enc(s_bar * K)), so the estimates are masked
  mixtures;
- the output is the velocity of x1-prediction, v = (x1_hat - x_t) / max(1 - t, T_FLOOR): at t = 0
  the one-step estimate x0 + v(x0, 0) is x1_hat itself, the regression separator; near t = 1 the
  division is clipped.

Width: ``channels`` is the bottleneck B (hidden 2B), ``hop`` the encoder stride (kernel 2 * hop),
``levels`` the trunk's repeats of ``DILATIONS`` blocks. Slot symmetry at t = 0 is broken by the
noise only, or by ``slot_code`` / ``slot_positions`` as in the U-Net.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import SlotCode, SlotExchange, SlotPositions, TimeEmbedding

DILATIONS = 8  # blocks per trunk repeat, dilations 1, 2, ..., 2^7
SLOT_BLOCKS = 4  # per-slot blocks, dilations 1, 2, 4, 8
T_FLOOR = 0.02  # 1 - t is clipped here in the x1-prediction velocity


class TCNBlock(nn.Module):
    """Depthwise-separable dilated residual block: 1x1 up, PReLU, norm, depthwise k=3, PReLU, norm,
    1x1 down (Conv-TasNet), with an optional FiLM of the hidden features."""

    def __init__(self, channels: int, hidden: int, dilation: int, cond_dim: int = 0):
        super().__init__()
        self.up = nn.Conv1d(channels, hidden, 1)
        self.act1, self.act2 = nn.PReLU(), nn.PReLU()
        self.norm1, self.norm2 = nn.GroupNorm(1, hidden), nn.GroupNorm(1, hidden)
        self.depthwise = nn.Conv1d(hidden, hidden, 3, padding=dilation, dilation=dilation, groups=hidden)
        self.down = nn.Conv1d(hidden, channels, 1)
        self.film = nn.Linear(cond_dim, 2 * hidden) if cond_dim else None

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        out = self.norm1(self.act1(self.up(h)))
        if self.film is not None:
            scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
            out = out * (1 + scale) + shift
        out = self.norm2(self.act2(self.depthwise(out)))
        return h + self.down(out)


class SlotTasNet(nn.Module):
    def __init__(self, channels: int = 64, levels: int = 2, time_dim: int = 64, hop: int = 16, slot_code: int = 0,
                 slot_positions: int = 0, basis: int = 128):
        super().__init__()
        self.hop, self.kernel = hop, 2 * hop
        hidden = 2 * channels
        self.encoder = nn.Conv1d(1, basis, self.kernel, stride=hop, bias=False)
        self.state_encoder = nn.Conv1d(1, basis, self.kernel, stride=hop, bias=False)
        self.decoder = nn.ConvTranspose1d(basis, 1, self.kernel, stride=hop, bias=False)
        self.trunk_in = nn.Sequential(nn.GroupNorm(1, basis), nn.Conv1d(basis, channels, 1))
        self.trunk = nn.ModuleList(TCNBlock(channels, hidden, 2 ** i) for _ in range(levels) for i in range(DILATIONS))
        self.slot_in = nn.Conv1d(channels + basis, channels, 1)
        self.time = TimeEmbedding(time_dim)
        self.code = SlotCode(slot_code, time_dim) if slot_code > 0 else None
        self.positions = SlotPositions(slot_positions, time_dim) if slot_positions > 0 else None
        self.slot_blocks = nn.ModuleList(TCNBlock(channels, hidden, 2 ** i, time_dim) for i in range(SLOT_BLOCKS))
        self.exchange = nn.ModuleList(SlotExchange(channels, nn.Conv1d) for _ in range(SLOT_BLOCKS))
        self.mask = nn.Conv1d(channels, basis, 1)

    def _encode(self, encoder: nn.Module, wave: torch.Tensor) -> torch.Tensor:
        """[N, T] -> [N, basis, frames], T padded to whole frames."""
        length = wave.shape[-1]
        pad = (-(length - self.kernel)) % self.hop if length > self.kernel else self.kernel - length
        return F.relu(encoder(F.pad(wave, (0, pad)).unsqueeze(1)))

    def separate(self, x: torch.Tensor, t: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        """x1_hat [B, K, T]: masked mixtures, the masks summing to one over the K slots."""
        batch, n_slots, length = x.shape
        scale = s_bar.pow(2).mean(-1).sqrt().clamp_min(1e-5)[:, None]  # the mixture's RMS
        mix = s_bar / scale * n_slots
        enc_mix = self._encode(self.encoder, mix)  # [B, N, L]
        h = self.trunk_in(enc_mix)
        for block in self.trunk:
            h = block(h)
        state = self._encode(self.state_encoder, (x / scale[:, :, None]).reshape(batch * n_slots, length))
        h = h.repeat_interleave(n_slots, dim=0)
        h = self.slot_in(torch.cat([h, state], dim=1))  # [B K, C, L]
        cond = self.time(t).repeat_interleave(n_slots, dim=0)
        if self.code is not None:
            cond = cond + self.code(x, s_bar)
        if self.positions is not None:
            cond = cond + self.positions(batch, n_slots)
        for block, exchange in zip(self.slot_blocks, self.exchange, strict=True):
            h = exchange(block(h, cond), n_slots)
        masks = self.mask(h).view(batch, n_slots, *enc_mix.shape[1:]).softmax(dim=1)
        masked = (masks * enc_mix.unsqueeze(1)).flatten(0, 1)
        wave = self.decoder(masked).squeeze(1)[:, :length]
        if wave.shape[-1] < length:
            wave = F.pad(wave, (0, length - wave.shape[-1]))
        return wave.view(batch, n_slots, length) * scale[:, :, None]

    def forward(self, x: torch.Tensor, t: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        """The x1-prediction velocity (x1_hat - x_t) / max(1 - t, T_FLOOR)."""
        remaining = (1 - t).clamp_min(T_FLOOR).view(-1, 1, 1)
        return (self.separate(x, t, s_bar) - x) / remaining
