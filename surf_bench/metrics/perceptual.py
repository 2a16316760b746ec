"""Optional feature networks of the image metrics (extra ``image-metrics``): the Inception-v3 pool
features of FID (torch-fidelity's TF-compatible port, 2048-d) and LPIPS with an AlexNet trunk
(Zhang et al. 2018, package ``lpips``, v0.1 linear heads).

Both packages import torchvision and download weights on first use. Offline, point to local files:
- SURF_BENCH_FID_WEIGHTS: torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``;
- SURF_BENCH_LPIPS_WEIGHTS: torchvision's ImageNet AlexNet ``alexnet-owt-7be5be79.pth`` (or a full
  ``lpips.LPIPS`` state dict); the linear heads ship inside the ``lpips`` package.
Without a variable, the file is looked up in the torch hub cache (``<torch.hub.get_dir()>/checkpoints``).
Loaders raise :class:`MetricUnavailable` with a one-line reason; nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

FID_ENV = "SURF_BENCH_FID_WEIGHTS"
LPIPS_ENV = "SURF_BENCH_LPIPS_WEIGHTS"
FID_FILE = "weights-inception-2015-12-05-6726825d.pth"
LPIPS_TRUNK_FILE = "alexnet-owt-7be5be79.pth"
LPIPS_MIN_SIZE = 64  # AlexNet's strides need >= 64 px; smaller images (MNIST 28 px) are upsampled
ALEXNET_SLICES = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}  # torchvision features.<i> -> lpips net.slice<k>.<i>


class MetricUnavailable(Exception):
    """The metric cannot be computed here; ``str(exc)`` says why and how to fix it."""


def find_weights(explicit: str | None, env: str, filename: str, metric: str) -> Path:
    """The weights file: the explicit path, else $env, else the torch hub cache."""
    given = explicit or os.environ.get(env, "")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise MetricUnavailable(f"{metric}: weights file {path} does not exist (from {env} or config)")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if cached.is_file():
        return cached
    raise MetricUnavailable(f"{metric}: no local weights; set {env}=/path/to/{filename} (never downloaded)")


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _import(module: str, metric: str):
    try:
        return __import__(module, fromlist=["_"])
    except Exception as exc:  # a torchvision built for another torch raises RuntimeError / OSError too
        package = module.split(".")[0]
        raise MetricUnavailable(f"{metric}: cannot import {package} ({_first_line(exc)}); install the extra "
                                "'surf-bench[image-metrics]' with a torchvision matching torch") from None


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] in [0, 1], clamped; one channel (MNIST) is replicated to three."""
    images = images.clamp(0, 1)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def load_inception(device: str, weights: str | None = None, batch_size: int = 64):
    """A function images [N, C, H, W] in [0, 1] -> Inception-v3 pool features [N, 2048] (numpy)."""
    module = _import("torch_fidelity.feature_extractor_inceptionv3", "fid")
    path = find_weights(weights, FID_ENV, FID_FILE, "fid")
    try:
        net = module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                 feature_extractor_weights_path=str(path)).to(device).eval()
    except Exception as exc:  # a wrong or corrupt file: a missing metric, not a crashed evaluation
        raise MetricUnavailable(f"fid: cannot load Inception weights {path} ({_first_line(exc)})") from None

    def features(images: torch.Tensor) -> np.ndarray:
        out = []
        with torch.no_grad():
            for chunk in to_rgb(images).split(batch_size):
                as_uint8 = (chunk * 255).round().to(torch.uint8).to(device)
                out.append(net(as_uint8)[0].double().cpu().numpy())
        return np.concatenate(out)

    return features


def _trunk_state(state: dict) -> dict:
    """torchvision AlexNet keys (features.<i>.<p>) -> the lpips trunk's (slice<k>.<i>.<p>)."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features" and int(parts[1]) in ALEXNET_SLICES:
            out[f"slice{ALEXNET_SLICES[int(parts[1])]}.{parts[1]}.{parts[2]}"] = value
    return out


def load_lpips(device: str, weights: str | None = None):
    """A function (est, ref) [N, C, H, W] in [0, 1] -> LPIPS-Alex distance per image [N] (torch)."""
    lpips = _import("lpips", "lpips")
    path = find_weights(weights, LPIPS_ENV, LPIPS_TRUNK_FILE, "lpips")
    try:
        # random trunk (no download), linear heads from the package, then the local trunk weights
        model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        if any(key.startswith("features.") for key in state):
            model.net.load_state_dict(_trunk_state(state), strict=True)
        else:
            model.load_state_dict(state, strict=True)
    except Exception as exc:  # a wrong or corrupt file: a missing metric, not a crashed evaluation
        raise MetricUnavailable(f"lpips: cannot load {path} as torchvision AlexNet or LPIPS weights "
                                f"({_first_line(exc)})") from None
    model = model.to(device).eval()

    def distance(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        est, ref = to_rgb(est), to_rgb(ref)
        size = min(est.shape[-2:])
        if size < LPIPS_MIN_SIZE:
            scale = LPIPS_MIN_SIZE / size
            est = F.interpolate(est, scale_factor=scale, mode="bilinear", align_corners=False)
            ref = F.interpolate(ref, scale_factor=scale, mode="bilinear", align_corners=False)
        with torch.no_grad():
            return model(est.to(device), ref.to(device), normalize=True).flatten()

    return distance
