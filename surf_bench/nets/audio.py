"""Audio backbone: the slot U-Net applied to short-time Fourier transforms.

Each slot and the mixture are transformed with torch.stft (Hann window); real and imaginary parts
are 2 channels of a time-frequency image [2, F, N]. The image U-Net (shared weights per slot,
exchange through the slot mean) predicts the slot's output spectrum, which torch.istft brings
back to a waveform. Inputs are divided by the mixture's RMS and outputs multiplied by it, so the
network sees mixtures of unit level whatever their loudness.
"""

from __future__ import annotations

import torch
from torch import nn

from .image import SlotUNet


class SlotTFNet(nn.Module):
    def __init__(self, channels: int = 32, levels: int = 2, time_dim: int = 64, n_fft: int = 256, hop: int = 64):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.unet = SlotUNet(in_channels=2, channels=channels, levels=levels, time_dim=time_dim)

    def _stft(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, self.n_fft, self.hop, window=self.window, return_complex=True, center=True)
        return torch.view_as_real(spec).permute(0, 3, 1, 2)  # [N, 2, F, frames]

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        complex_spec = torch.view_as_complex(spec.permute(0, 2, 3, 1).contiguous())
        return torch.istft(complex_spec, self.n_fft, self.hop, window=self.window, center=True, length=length)

    def forward(self, x: torch.Tensor, t: torch.Tensor, s_bar: torch.Tensor) -> torch.Tensor:
        batch, n_slots, length = x.shape
        scale = s_bar.pow(2).mean(-1).sqrt().clamp_min(1e-5)  # [B]
        x_n = x / scale[:, None, None]
        spec_x = self._stft(x_n.reshape(batch * n_slots, length)).view(batch, n_slots, 2, *self._shape(length))
        spec_m = self._stft(s_bar / scale[:, None])
        out = self.unet(spec_x, t, spec_m)  # [B, K, 2, F, frames]
        wave = self._istft(out.flatten(0, 1), length).view(batch, n_slots, length)
        return wave * scale[:, None, None]

    def _shape(self, length: int) -> tuple[int, int]:
        return self.n_fft // 2 + 1, length // self.hop + 1
