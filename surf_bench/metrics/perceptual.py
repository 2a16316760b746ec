"""Feature networks of the image metrics, in plain torch (no torchvision): FID's Inception-v3 pool
features from NVlabs' TorchScript file (the network clean-fid and StyleGAN2-ADA's metrics use), and
LPIPS-Alex v0.1 (metrics/lpips_alex.py).

Weights are looked up as: the config's path (eval.fid_weights / eval.lpips_weights), then
$SURF_BENCH_FID_WEIGHTS / $SURF_BENCH_LPIPS_WEIGHTS, then the weights cache
($SURF_BENCH_WEIGHTS or ~/.cache/surf_bench/weights: ``inception-2015-12-05.pt``,
``lpips_alex_v0.1.pt``), written by ``surf-bench fetch fid-weights`` / ``fetch lpips-weights``.
Loaders raise :class:`MetricUnavailable` with a one-line reason; nothing is downloaded at scoring.

FID input convention (StyleGAN2-ADA's metric_utils): uint8 images [N, 3, H, W] in 0-255, called
with ``return_features=True``; the TorchScript resizes to 299 itself and returns [N, 2048].
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

FID_ENV = "SURF_BENCH_FID_WEIGHTS"
LPIPS_ENV = "SURF_BENCH_LPIPS_WEIGHTS"
FID_FILE = "inception-2015-12-05.pt"
FID_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
LPIPS_FILE = "lpips_alex_v0.1.pt"
LPIPS_MIN_SIZE = 64  # AlexNet's strides need >= 64 px; smaller images (MNIST 28 px) are upsampled


class MetricUnavailable(Exception):
    """The metric cannot be computed here; ``str(exc)`` says why and how to fix it."""


def find_weights(explicit: str | None, env: str, filename: str, metric: str) -> Path:
    """The weights file: the explicit path, else $env, else the weights cache."""
    from .lpips_alex import weights_dir

    given = explicit or os.environ.get(env, "")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise MetricUnavailable(f"{metric}: weights file {path} does not exist (from {env} or config)")
        return path
    cached = weights_dir() / filename
    if cached.is_file():
        return cached
    raise MetricUnavailable(f"{metric}: no weights; run `surf-bench fetch {metric}-weights` (online) or set "
                            f"{env}=/path/to/{filename}")


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] in [0, 1], clamped; one channel (MNIST) is replicated to three."""
    images = images.clamp(0, 1)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def load_inception(device: str, weights: str | None = None, batch_size: int = 64):
    """A function images [N, C, H, W] in [0, 1] -> Inception-v3 pool features [N, 2048] (numpy)."""
    path = find_weights(weights, FID_ENV, FID_FILE, "fid")
    try:
        net = torch.jit.load(str(path), map_location=device).eval()
    except Exception as exc:  # a wrong or corrupt file: a missing metric, not a crashed evaluation
        raise MetricUnavailable(f"fid: cannot load the TorchScript Inception {path} ({_first_line(exc)})") from None

    def features(images: torch.Tensor) -> np.ndarray:
        out = []
        with torch.no_grad():
            for chunk in to_rgb(images).split(batch_size):
                as_uint8 = (chunk * 255).round().to(torch.uint8).to(device)
                out.append(net(as_uint8, return_features=True).double().cpu().numpy())
        return np.concatenate(out)

    return features


def load_lpips(device: str, weights: str | None = None):
    """A function (est, ref) [N, C, H, W] in [0, 1] -> LPIPS-Alex distance per image [N] (torch)."""
    from . import lpips_alex

    path = find_weights(weights, LPIPS_ENV, LPIPS_FILE, "lpips")
    try:
        model = lpips_alex.load(path, device)
    except Exception as exc:  # a wrong or corrupt file: a missing metric, not a crashed evaluation
        raise MetricUnavailable(f"lpips: cannot load {path} as LPIPS-Alex weights ({_first_line(exc)}); run "
                                "`surf-bench fetch lpips-weights` again") from None

    def distance(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        est, ref = to_rgb(est), to_rgb(ref)
        size = min(est.shape[-2:])
        if size < LPIPS_MIN_SIZE:
            scale = LPIPS_MIN_SIZE / size
            est = F.interpolate(est, scale_factor=scale, mode="bilinear", align_corners=False)
            ref = F.interpolate(ref, scale_factor=scale, mode="bilinear", align_corners=False)
        with torch.no_grad():
            return model(est.to(device) * 2 - 1, ref.to(device) * 2 - 1)

    return distance


def fetch_fid_weights(target: Path | None = None, source: Path | None = None) -> tuple[Path, str]:
    """Put NVlabs' TorchScript Inception into the weights cache (from ``source`` or FID_URL);
    checks that it loads and gives 2048-d features; returns (file, sha256)."""
    import hashlib
    import shutil
    import tempfile
    import urllib.request

    from ..errors import SurfBenchError
    from ..files import atomic_write_bytes
    from .lpips_alex import weights_dir

    target = Path(target or weights_dir() / FID_FILE)
    try:
        if source:
            data = Path(source).read_bytes()
        else:
            with urllib.request.urlopen(FID_URL, timeout=60) as response, tempfile.TemporaryFile() as tmp:
                shutil.copyfileobj(response, tmp)
                tmp.seek(0)
                data = tmp.read()
    except OSError as exc:
        raise SurfBenchError(f"fid weights: cannot get {source or FID_URL} ({exc}); offline, download that file on a "
                             f"machine that is online and run `surf-bench fetch fid-weights --from FILE` (or set "
                             f"{FID_ENV})") from None
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / FID_FILE
        probe.write_bytes(data)
        try:
            net = torch.jit.load(str(probe), map_location="cpu").eval()
            with torch.no_grad():
                out = net(torch.zeros(1, 3, 64, 64, dtype=torch.uint8), return_features=True)
        except Exception as exc:
            raise SurfBenchError(f"fid weights: {source or FID_URL} is not the TorchScript Inception "
                                 f"({_first_line(exc)})") from None
    if tuple(out.shape) != (1, 2048):
        raise SurfBenchError(f"fid weights: the network gives features of shape {tuple(out.shape)}, not (1, 2048)")
    atomic_write_bytes(target, data)
    return target, hashlib.sha256(data).hexdigest()
