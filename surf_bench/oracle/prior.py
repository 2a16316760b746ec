"""A Gaussian-mixture prior over images: one probabilistic-PCA Gaussian per class.

    p(x) = sum_c pi_c N(x; mu_c, F_c F_c^T + s2_c I),  F_c = U_c (Lambda_c - s2_c I)^(1/2)

with U_c, Lambda_c the top ``rank`` eigenvectors and eigenvalues of class c's sample covariance and
s2_c the mean of its remaining eigenvalues: the maximum-likelihood PPCA fit (Tipping & Bishop 1999,
"Probabilistic principal component analysis", eq. 7-8). The fit is deterministic: a fixed sign per
eigenvector (its largest-magnitude entry positive) and parameters stored in float32, so the same
digits give the same prior, and :meth:`GaussianMixturePrior.digest` names it
(docs/architecture.md, "Oracle datasets").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import DataError


@dataclass(frozen=True)
class GaussianMixturePrior:
    weights: torch.Tensor  # pi [C]
    means: torch.Tensor  # mu [C, D]
    factors: torch.Tensor  # F [C, D, r]
    noise_var: torch.Tensor  # s2 [C]
    shape: tuple  # item shape (channels, height, width); D = its product

    @property
    def n_classes(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def rank(self) -> int:
        return self.factors.shape[2]

    def digest(self) -> str:
        """sha256 (16 hex) of the stored parameters: the prior's identity in a manifest."""
        digest = hashlib.sha256(repr(tuple(self.shape)).encode())
        for tensor in (self.weights, self.means, self.factors, self.noise_var):
            digest.update(tensor.to(torch.float32).contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n independent draws: images [n, *shape] (float32) and their classes [n]."""
        labels = torch.multinomial(self.weights.double(), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.rank, generator=generator, dtype=torch.float64)
        eta = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        factors = self.factors.double()[labels]  # [n, D, r]
        x = (self.means.double()[labels] + (factors @ eps.unsqueeze(-1)).squeeze(-1)
             + self.noise_var.double()[labels].sqrt().unsqueeze(-1) * eta)
        return x.float().view(n, *self.shape), labels

    def state(self) -> dict:
        return {"weights": self.weights, "means": self.means, "factors": self.factors,
                "noise_var": self.noise_var, "shape": list(self.shape)}

    @classmethod
    def from_state(cls, state: dict) -> GaussianMixturePrior:
        return cls(state["weights"], state["means"], state["factors"], state["noise_var"], tuple(state["shape"]))

    def save(self, path: Path) -> None:
        torch.save(self.state(), path)

    @classmethod
    def load(cls, path: Path) -> GaussianMixturePrior:
        try:
            return cls.from_state(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:
            raise DataError(f"cannot read the fitted prior {path} ({type(exc).__name__}); delete it to refit") from None


def _fixed_signs(vectors: torch.Tensor) -> torch.Tensor:
    """Columns flipped so that each one's largest-magnitude entry is positive (eigh's sign is arbitrary)."""
    index = vectors.abs().argmax(0)
    signs = vectors.gather(0, index.unsqueeze(0)).sign()
    return vectors * torch.where(signs == 0, torch.ones_like(signs), signs)


def fit_ppca_mixture(images: torch.Tensor, labels: torch.Tensor, rank: int, size: int | None = None,
                     residual_scale: float = 1.0) -> GaussianMixturePrior:
    """One PPCA Gaussian per class of ``images`` [N, C, H, W] (pixels), optionally average-pooled to
    ``size`` x ``size`` first; class weights are the class frequencies. ``residual_scale`` multiplies
    each class's isotropic residual s2_c after the fit (1: the PPCA maximum-likelihood prior; below 1,
    sources more structured than the digits, a sharper posterior)."""
    if size is not None and size != images.shape[-1]:
        if images.shape[-1] % size:
            raise DataError(f"image size {images.shape[-1]} is not a multiple of {size}")
        images = F.avg_pool2d(images, images.shape[-1] // size)
    shape = tuple(images.shape[1:])
    flat = images.flatten(1).double()
    classes = torch.unique(labels)
    dim = flat.shape[1]
    if not 0 < rank < dim:
        raise DataError(f"the prior's rank must be in 1..{dim - 1}, not {rank}")
    weights, means, factors, noise = [], [], [], []
    for c in classes:
        x = flat[labels == c]
        mu = x.mean(0)
        centred = x - mu
        cov = centred.T @ centred / len(x)
        values, vectors = torch.linalg.eigh(cov)  # ascending
        values, vectors = values.flip(0).clamp_min(0), vectors.flip(1)
        s2 = values[rank:].mean().clamp_min(1e-8)
        top = _fixed_signs(vectors[:, :rank])
        weights.append(len(x) / len(flat))
        means.append(mu)
        factors.append(top * (values[:rank] - s2).clamp_min(0).sqrt())
        noise.append(s2 * residual_scale)
    # Stored in float32: the prior's identity does not depend on the last bits of eigh.
    return GaussianMixturePrior(torch.tensor(weights, dtype=torch.float32), torch.stack(means).float(),
                                torch.stack(factors).float(), torch.stack(noise).float(), shape)
