"""The PPCA-mixture prior (surf_bench/oracle/prior.py): the fit is the maximum-likelihood PPCA of
each class, deterministic, and its samples have the fitted moments."""

import pytest
import torch

from surf_bench.oracle.prior import GaussianMixturePrior, fit_ppca_mixture


def toy_images(n=600, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    basis = torch.randn(3, 2, size * size, generator=g)
    coeff = torch.randn(n, 2, generator=g) * torch.tensor([2.0, 0.5])
    images = (labels[:, None].float() + torch.einsum("nr,nrd->nd", coeff, basis[labels])
              + 0.1 * torch.randn(n, size * size, generator=g))
    return images.view(n, 1, size, size), labels


def test_the_fit_reproduces_each_class_covariance_on_its_top_components():
    images, labels = toy_images()
    prior = fit_ppca_mixture(images, labels, rank=2)
    for c in range(3):
        x = images[labels == c].flatten(1).double()
        cov = torch.cov(x.T, correction=0)
        f = prior.factors[c].double()
        model = f @ f.T + prior.noise_var[c].double() * torch.eye(64, dtype=torch.float64)
        values, vectors = torch.linalg.eigh(cov)
        top = vectors[:, -2:]
        # Tipping & Bishop: the model keeps the top eigenvalues exactly, the rest averaged.
        assert torch.allclose(top.T @ model @ top, torch.diag(values[-2:]), rtol=1e-4, atol=1e-4)
        assert prior.noise_var[c].item() == pytest.approx(values[:-2].mean().item(), rel=1e-4)
    assert torch.allclose(prior.weights, torch.full((3,), 1 / 3))


def test_the_fit_is_deterministic_and_named_by_its_digest(tmp_path):
    images, labels = toy_images()
    a, b = fit_ppca_mixture(images, labels, 2), fit_ppca_mixture(images.clone(), labels, 2)
    assert a.digest() == b.digest()
    assert fit_ppca_mixture(images, labels, 3).digest() != a.digest()
    assert fit_ppca_mixture(images, labels, 2, residual_scale=0.5).digest() != a.digest()
    a.save(tmp_path / "p.pt")
    assert GaussianMixturePrior.load(tmp_path / "p.pt").digest() == a.digest()


def test_samples_have_the_fitted_class_moments():
    images, labels = toy_images(size=4)
    prior = fit_ppca_mixture(images, labels, 2)
    x, c = prior.sample(60_000, torch.Generator().manual_seed(0))
    assert x.shape == (60_000, 1, 4, 4)
    assert torch.allclose(torch.bincount(c, minlength=3).float() / 60_000, prior.weights, atol=0.01)
    for k in range(3):
        xs = x[c == k].flatten(1).double()
        assert torch.allclose(xs.mean(0), prior.means[k].double(), atol=0.05)


def test_pooling_and_a_bad_rank_or_size_are_refused():
    from surf_bench.errors import DataError

    images, labels = toy_images(size=8)
    assert fit_ppca_mixture(images, labels, 2, size=4).shape == (1, 4, 4)
    with pytest.raises(DataError, match="rank"):
        fit_ppca_mixture(images, labels, 64)
    with pytest.raises(DataError, match="multiple"):
        fit_ppca_mixture(images, labels, 2, size=3)
