"""Audio backbone: a 1-D slot U-Net over STFT frames, frequency bins as channels.

Each slot and the mixture are transformed with torch.stft (Hann window); the real and imaginary
parts of the F bins are 2F channels of a sequence of frames. The 1-D U-Net (shared weights per
slot, exchange through the slot mean, FiLM in t) predicts each slot's output spectrum, which
torch.istft brings back to a waveform. Treating bins as channels keeps the cost per frame small
(TasNet-like) where a 2-D U-Net over (bins, frames) would be ~100x the cost of an MNIST image.
Inputs are divided by the mixture's RMS and outputs multiplied by it.
"""

from __future__ import annotations

import torch
from torch import nn

from .unet import SlotUNet


class SlotTFNet(nn.Module):
    def __init__(self, channels: int = 64, levels: int = 2, time_dim: int = 64, n_fft: int = 256, hop: int = 64,
                 slot_code: int = 0):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop
        self.bins = n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.unet = SlotUNet(in_channels=2 * self.bins, channels=channels, levels=levels, time_dim=time_dim, dims=1,
                             slot_code=slot_code)

    def _stft(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, self.n_fft, self.hop, window=self.window, return_complex=True, center=True)
        return torch.cat([spec.real, spec.imag], dim=1)  # [N, 2F, frames]

    def _istft(self, feats: torch.Tensor, length: int) -> torch.Tensor:
        spec = torch.complex(feats[:, : self.bins], feats[:, self.bins:])
        return torch.istft(spec, self.n_fft, self.hop, window=self.window, center=True, length=length)

    def forward(self, x: torch.Tensor, t: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        batch, n_slots, length = x.shape
        scale = s_bar.pow(2).mean(-1).sqrt().clamp_min(1e-5)  # [B]
        feats_x = self._stft((x / scale[:, None, None]).reshape(batch * n_slots, length))
        feats_x = feats_x.view(batch, n_slots, *feats_x.shape[1:])
        feats_m = self._stft(s_bar / scale[:, None])
        out = self.unet(feats_x, t, feats_m)  # [B, K, 2F, frames]
        wave = self._istft(out.flatten(0, 1), length).view(batch, n_slots, length)
        return wave * scale[:, None, None]
