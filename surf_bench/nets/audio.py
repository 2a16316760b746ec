"""Audio backbone: a 1-D slot U-Net over STFT frames, frequency bins as channels.

Each slot and the mixture are transformed with torch.stft (Hann window); the real and imaginary
parts of the F bins are 2F channels of a sequence of frames. The 1-D U-Net (shared weights per
slot, exchange through the slot mean, FiLM in t) predicts each slot's output spectrum, which
torch.istft brings back to a waveform. Treating bins as channels keeps the cost per frame small
(TasNet-like) where a 2-D U-Net over (bins, frames) would be ~100x the cost of an MNIST image.
Inputs are divided by the mixture's RMS and outputs multiplied by it.

Heads (``net.head``): "direct" outputs each slot's spectrum as 2F channels. "mask" outputs, per
slot and bin, two complex gains M and N, and returns M * X_mix + N * X_k (complex products with
the mixture's and the slot's own STFT), the complex-ratio-mask form of
speech enhancement (Williamson et al. 2016, cRM): the fine phase structure is carried by the input
spectra, so it need not pass through the U-Net's C channels. At t = 0 the one-step estimate
x0 + v = M * X_mix is a masked mixture when N = -1, and any velocity toward a masked mixture,
(M' X_mix - X_t) / (1 - t), has this form. docs/architecture.md, "Networks", has the
validation figures.
"""

from __future__ import annotations

import torch
from torch import nn

from .unet import SlotUNet


class SlotTFNet(nn.Module):
    def __init__(self, channels: int = 64, levels: int = 2, time_dim: int = 64, n_fft: int = 256, hop: int = 64,
                 slot_code: int = 0, head: str = "direct", slot_positions: int = 0):
        super().__init__()
        if head not in ("direct", "mask"):
            raise ValueError(f"unknown audio head {head!r} (direct | mask)")
        self.head = head
        self.n_fft = n_fft
        self.hop = hop
        self.bins = n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.unet = SlotUNet(in_channels=2 * self.bins, channels=channels, levels=levels, time_dim=time_dim, dims=1,
                             slot_code=slot_code, out_channels=2 * self.bins * (2 if head == "mask" else 1),
                             slot_positions=slot_positions)

    def _stft(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, self.n_fft, self.hop, window=self.window, return_complex=True, center=True)
        return torch.cat([spec.real, spec.imag], dim=1)  # [N, 2F, frames]

    def _istft(self, feats: torch.Tensor, length: int) -> torch.Tensor:
        spec = torch.complex(feats[:, : self.bins], feats[:, self.bins:])
        return torch.istft(spec, self.n_fft, self.hop, window=self.window, center=True, length=length)

    def _cmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Complex product of [re(F), im(F)] channel stacks (dim 2)."""
        ar, ai = a[:, :, : self.bins], a[:, :, self.bins:]
        br, bi = b[:, :, : self.bins], b[:, :, self.bins:]
        return torch.cat([ar * br - ai * bi, ar * bi + ai * br], dim=2)

    def forward(self, x: torch.Tensor, t: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        batch, n_slots, length = x.shape
        scale = s_bar.pow(2).mean(-1).sqrt().clamp_min(1e-5)  # [B]
        feats_x = self._stft((x / scale[:, None, None]).reshape(batch * n_slots, length))
        feats_x = feats_x.view(batch, n_slots, *feats_x.shape[1:])
        feats_m = self._stft(s_bar / scale[:, None])
        out = self.unet(feats_x, t, feats_m)  # [B, K, 2F (direct) or 2 x 2F (mask), frames]
        if self.head == "mask":
            gain_mix, gain_own = out.chunk(2, dim=2)
            out = self._cmul(gain_mix, feats_m.unsqueeze(1)) + self._cmul(gain_own, feats_x)
        wave = self._istft(out.flatten(0, 1), length).view(batch, n_slots, length)
        return wave * scale[:, None, None]
