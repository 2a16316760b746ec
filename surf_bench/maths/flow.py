"""FLOSS flow path, PIT flow-matching loss and the ODE sampler (docs/architecture.md, "The flow path").

Shapes: slots x [B, K, *S]; the mixture enters as the average source s_bar = mix_sum / K [B, *S].
- projection Pp = I - 11^T/K removes the mean over slots: every velocity is zero-sum, so every
  point of the path and every sampler output sums to K * s_bar, the mixture (consistency by
  construction).
- noise end x0 = 1 s_bar + Pp z, z ~ N(0, sigma^2) (optionally shaped by the mixture envelope);
- path x_t = (1 - t) x0 + t x1, target velocity x1 - x0;
- bridge x1_hat(x_t, t) = x_t + (1 - t) v(x_t, t).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .pit import best_permutation, pairwise_mse, permute_slots


def zero_sum(x: torch.Tensor) -> torch.Tensor:
    """Pp x: subtract the mean over the slot axis (dim 1)."""
    return x - x.mean(dim=1, keepdim=True)


def bcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.view(-1, *([1] * (like.ndim - 1)))


def envelope(s_bar: torch.Tensor, window: int = 1024) -> torch.Tensor:
    """Smoothed amplitude envelope of an audio mixture [B, T]: sqrt of the moving-average power."""
    power = F.avg_pool1d(s_bar.unsqueeze(1) ** 2, window, stride=1, padding=window // 2,
                         count_include_pad=False)[..., : s_bar.shape[-1]].squeeze(1)
    return power.clamp_min(1e-12).sqrt()


def rms(s_bar: torch.Tensor) -> torch.Tensor:
    """Per-item RMS [B, 1, ..., 1] of the mixture."""
    return s_bar.flatten(1).pow(2).mean(1).sqrt().clamp_min(1e-8).view(-1, *([1] * (s_bar.ndim - 1)))


def spectral_gain(s_bar: torch.Tensor, smooth_bins: int = 33) -> torch.Tensor:
    """|S(f)| of an audio mixture [B, T] smoothed over ``smooth_bins`` frequency bins, scaled so
    that white noise filtered by it keeps its power times the mixture's: [B, T // 2 + 1]."""
    magnitude = torch.fft.rfft(s_bar, dim=-1).abs()
    smooth = F.avg_pool1d(magnitude.unsqueeze(1), smooth_bins, stride=1, padding=smooth_bins // 2,
                          count_include_pad=False).squeeze(1)[..., : magnitude.shape[-1]]
    unit = smooth / smooth.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)
    return unit * rms(s_bar).view(-1, 1)


def noise_end(s_bar: torch.Tensor, n_slots: int, sigma: float, generator: torch.Generator | None = None,
              scale: str = "absolute") -> torch.Tensor:
    """x0 = 1 s_bar + Pp z, z ~ N(0, sigma^2 I) times a per-item scale.

    scale: "absolute" (images: pixels live in [0, 1]); "rms" (audio: sigma relative to the
    mixture's RMS, so the noise follows the recording level); "envelope" (FLOSS-style: sigma times
    the mixture's smoothed amplitude envelope, so silent regions get no noise); "spectrum" (audio:
    white noise filtered to the mixture's smoothed magnitude spectrum, at the mixture's RMS, so no
    band gets more noise than the mixture has there).
    """
    shape = (s_bar.shape[0], n_slots, *s_bar.shape[1:])
    z = torch.randn(shape, generator=generator, device="cpu" if generator is None else generator.device,
                    dtype=s_bar.dtype).to(s_bar.device) * sigma
    if scale == "rms":
        z = z * rms(s_bar).unsqueeze(1)
    elif scale == "envelope":
        z = z * envelope(s_bar).unsqueeze(1)
    elif scale == "spectrum":
        z = torch.fft.irfft(torch.fft.rfft(z, dim=-1) * spectral_gain(s_bar).unsqueeze(1), n=z.shape[-1], dim=-1)
    elif scale != "absolute":
        raise ValueError(f"unknown noise scale {scale!r}")
    return s_bar.unsqueeze(1) + zero_sum(z)


def path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t x1."""
    tt = bcast(t, x0)
    return (1 - tt) * x0 + tt * x1


def denoise(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Bridge from velocity to denoiser: x1_hat = x_t + (1 - t) v."""
    return x_t + (1 - bcast(t, x_t)) * v


def sample_times(batch: int, dist: str, t0_prob: float = 0.0, generator=None, device="cpu") -> torch.Tensor:
    """Training times: uniform, logit-normal (SD3), or beta_low = 1 - sqrt(U) (density 2(1 - t))."""
    u = torch.rand(batch, generator=generator)
    if dist == "logit_normal":
        t = torch.sigmoid(torch.randn(batch, generator=generator))
    elif dist == "beta_low":
        t = 1 - u.sqrt()
    else:
        t = u
    if t0_prob > 0:
        t = torch.where(torch.rand(batch, generator=generator) < t0_prob, torch.zeros_like(t), t)
    return t.to(device)


VelocityField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def fm_targets(velocity: VelocityField, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """PIT step of PIT-FM: the permutation of x1 that best matches the no-grad v(x0, 0).

    pi* = argmin_pi || v(x0, 0) - (pi x1 - x0) ||^2; the cost separates over slots, so it is an
    exact assignment on the K x K matrix cost[i, j] = || v_i - (x1_j - x0_i) ||^2.
    """
    with torch.no_grad():
        t0 = torch.zeros(x0.shape[0], device=x0.device)
        v0 = velocity(x0, t0)
        cost = pairwise_mse(v0 + x0, x1)  # || (v_i + x0_i) - x1_j ||^2 == || v_i - (x1_j - x0_i) ||^2
        return permute_slots(x1, best_permutation(cost))


def fm_loss(velocity: VelocityField, x0: torch.Tensor, x1_aligned: torch.Tensor, t: torch.Tensor,
            reduce: bool = True, weights: torch.Tensor | None = None, space: str = "velocity") -> torch.Tensor:
    """|| v(x_t, t) - (x1 - x0) ||^2 at x_t on the straight path (mean over all but batch), times
    per-item ``weights`` when given (``level_weights``); ``space`` as in :func:`flow_residual`."""
    residual = flow_residual(velocity, x0, x1_aligned, t, space)
    per_item = residual.pow(2).flatten(1).mean(1)
    if weights is not None:
        per_item = per_item * weights
    return per_item.mean() if reduce else per_item


def level_weights(s_bar: torch.Tensor) -> torch.Tensor:
    """1 / mean(s_bar^2) per item [B]: a loss in units of the mixture's power, so a loud item weighs
    as much as a quiet one (``flow.level_norm``)."""
    return 1.0 / s_bar.flatten(1).pow(2).mean(1).clamp_min(1e-10)


def flow_residual(velocity: VelocityField, x0: torch.Tensor, x1_aligned: torch.Tensor,
                  t: torch.Tensor, space: str = "velocity") -> torch.Tensor:
    """R_t = v(x_t, t) - (x1 - x0) (``space="velocity"``), or (1 - t) R_t = x1_hat(x_t, t) - x1 (``"x1"``,
    ``flow.loss``): the error of the bridge's denoised estimate, which weighs every t alike where the
    velocity loss weighs an x1-predicting network's error by 1 / (1 - t)^2."""
    residual = velocity(path(x0, x1_aligned, t), t) - (x1_aligned - x0)
    return residual * (1 - bcast(t, residual)) if space == "x1" else residual


def time_grid(nfe: int, sampler: str = "euler", device="cpu") -> torch.Tensor:
    """Uniform grid from 0 to 1: Euler takes nfe steps, midpoint nfe // 2 steps of 2 evaluations."""
    steps = nfe if sampler == "euler" else max(1, nfe // 2)
    return torch.linspace(0.0, 1.0, steps + 1, device=device)


def integrate(velocity: VelocityField, x0: torch.Tensor, grid: torch.Tensor, sampler: str = "euler") -> torch.Tensor:
    """Solve dx/dt = v(x, t) over ``grid`` with forward Euler or the explicit midpoint rule."""
    x = x0
    batch = x0.shape[0]
    for t_a, t_b in zip(grid[:-1], grid[1:], strict=True):
        h = t_b - t_a
        t_vec = t_a.expand(batch)
        if sampler == "euler":
            x = x + h * velocity(x, t_vec)
        elif sampler == "midpoint":
            half = x + (h / 2) * velocity(x, t_vec)
            x = x + h * velocity(half, (t_a + h / 2).expand(batch))
        else:
            raise ValueError(f"unknown sampler {sampler!r}")
    return x


def sample(velocity: VelocityField, x0: torch.Tensor, nfe: int, sampler: str = "euler") -> torch.Tensor:
    """Separate by integrating from the noise end; no grad. Output sums to the mixture."""
    with torch.no_grad():
        return integrate(velocity, x0, time_grid(nfe, sampler, x0.device), sampler)
