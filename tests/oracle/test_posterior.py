"""The exact posterior of Gaussian-mixture sources given their sum (surf_bench/oracle/posterior.py)
against independent routes: self-normalised importance sampling, the sum constraint, and the
variance identity of posterior samples."""

import itertools
import math

import pytest
import torch

from surf_bench.maths.pit import best_permutation, pairwise_mse, permute_slots
from surf_bench.oracle.posterior import ExactPosterior
from surf_bench.oracle.prior import GaussianMixturePrior


def small_prior(n_classes=3, dim=4, rank=2, seed=0) -> GaussianMixturePrior:
    g = torch.Generator().manual_seed(seed)
    weights = torch.rand(n_classes, generator=g) + 0.5
    return GaussianMixturePrior(weights / weights.sum(), 2 * torch.randn(n_classes, dim, generator=g),
                                0.7 * torch.randn(n_classes, dim, rank, generator=g),
                                0.1 + 0.3 * torch.rand(n_classes, generator=g), (1, 1, dim))


def gaussian_log_pdf(x, mean, cov):
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)


def covariances(prior):
    f = prior.factors.double()
    return f @ f.transpose(1, 2) + prior.noise_var.double().view(-1, 1, 1) * torch.eye(prior.dim, dtype=torch.float64)


def test_weights_and_means_match_self_normalised_importance_sampling():
    """K = 2: draw x1 from the prior (with its class), weight by the density of x2 = y - x1 under
    each class: E[x1 | y] and p(c1, c2 | y) by SNIS, against the closed form."""
    prior = small_prior()
    post = ExactPosterior(prior, 2)
    g = torch.Generator().manual_seed(1)
    truth, _ = prior.sample(2, g)
    y = truth.view(1, 2, -1).sum(1).double()  # one mixture [1, D]
    n = 400_000
    x1, c1 = prior.sample(n, g)
    x1 = x1.view(n, -1).double()
    covs = covariances(prior)
    log_w = torch.stack([prior.weights.double()[c].log() + gaussian_log_pdf(y - x1, prior.means.double()[c], covs[c])
                         for c in range(prior.n_classes)], 1)  # [n, C]: x2's class
    w = (log_w - log_w.max()).exp()
    snis_tuple = torch.zeros(prior.n_classes, prior.n_classes, dtype=torch.float64)
    snis_tuple.index_put_((c1.repeat_interleave(prior.n_classes), torch.arange(prior.n_classes).repeat(n)),
                          w.flatten(), accumulate=True)
    snis_tuple /= w.sum()
    exact_tuple = post.log_weights(y).exp().view(prior.n_classes, prior.n_classes)
    assert torch.allclose(snis_tuple, exact_tuple, atol=0.02)
    snis_mean = (w.sum(1, keepdim=True) * x1).sum(0) / w.sum()
    weights = post.log_weights(y).exp()[0]
    comp = post.component_means(y.expand(len(post.tuples), -1), post.tuples)  # [T, 2, D]
    exact_mean = (weights[:, None] * comp[:, 0]).sum(0)
    assert torch.allclose(snis_mean, exact_mean, atol=0.05 * exact_mean.abs().max().item())


def test_component_means_are_the_gaussian_conditional():
    """Dense route: E[x | y, c] = mu + Sigma_k S^-1 (y - sum mu) with explicit D x D matrices."""
    prior = small_prior(n_classes=2, dim=5, rank=2)
    post = ExactPosterior(prior, 3)
    y = torch.randn(4, 5, dtype=torch.float64)
    tuples = torch.tensor([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1]])
    covs = covariances(prior)
    means = prior.means.double()
    got = post.component_means(y, tuples)
    for b, c in enumerate(tuples.tolist()):
        s = sum(covs[j] for j in c)
        r = y[b] - sum(means[j] for j in c)
        want = torch.stack([means[j] + covs[j] @ torch.linalg.solve(s, r) for j in c])
        assert torch.allclose(got[b], want, atol=1e-9)


def test_log_weights_against_dense_likelihoods():
    prior = small_prior(n_classes=3, dim=4, rank=1)
    post = ExactPosterior(prior, 2)
    y = 3 * torch.randn(3, 4, dtype=torch.float64)
    covs, means, log_pi = covariances(prior), prior.means.double(), prior.weights.double().log()
    want = torch.stack([torch.stack([log_pi[a] + log_pi[b] + gaussian_log_pdf(y[i], means[a] + means[b],
                                                                              covs[a] + covs[b])
                                     for a, b in itertools.product(range(3), repeat=2)]) for i in range(3)])
    want = want - want.logsumexp(1, keepdim=True)
    assert torch.allclose(post.log_weights(y), want, atol=1e-9)


@pytest.mark.parametrize("k", [2, 3])
def test_exact_samples_sum_to_the_mixture(k):
    prior = small_prior()
    post = ExactPosterior(prior, k)
    y = torch.randn(5, prior.dim, dtype=torch.float64) * 3
    samples = post.sample(y, 16, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 16, k, prior.dim)
    assert torch.allclose(samples.sum(2), y.unsqueeze(1).expand(-1, 16, -1), atol=1e-10)


def test_a_sample_has_twice_the_posterior_mean_error():
    """E||s - x||^2 = 2 E||E[x|y] - x||^2 for an exact sample s (plain, unaligned): the samples have
    the posterior's own spread. With exchangeable slots E[x|y] is y / K in every slot."""
    prior = small_prior(dim=6)
    post = ExactPosterior(prior, 2)
    x, _ = prior.sample(2 * 4000, torch.Generator().manual_seed(3))
    x = x.view(4000, 2, -1).double()
    y = x.sum(1)
    s = post.sample(y, 1, torch.Generator().manual_seed(4))[:, 0]
    sample_err = (s - x).pow(2).mean()
    mmse = (y.unsqueeze(1) / 2 - x).pow(2).mean()
    assert sample_err.item() == pytest.approx(2 * mmse.item(), rel=0.06)


def test_the_pit_mean_beats_the_mixture_and_a_sample_and_is_a_fixed_point():
    prior = small_prior(dim=6)
    post = ExactPosterior(prior, 2)
    x, _ = prior.sample(2 * 300, torch.Generator().manual_seed(5))
    x = x.view(300, 2, -1).double()
    y = x.sum(1)
    samples = post.sample(y, 257, torch.Generator().manual_seed(6))
    estimate = post.pit_mean(y, samples[:, :256])

    def pit_mse(est):
        cost = pairwise_mse(est, x)
        return cost.gather(2, best_permutation(cost).unsqueeze(-1)).mean().item()

    bayes, mixture, sample = pit_mse(estimate), pit_mse((y / 2).unsqueeze(1).expand_as(x)), pit_mse(samples[:, 256])
    assert bayes < mixture and bayes < sample < 2 * bayes * 1.1
    # A fixed point: aligning the samples to the estimate and averaging gives the estimate back.
    flat = samples[:, :256].reshape(-1, 2, prior.dim)
    perm = best_permutation(pairwise_mse(estimate.repeat_interleave(256, 0), flat))
    again = permute_slots(flat, perm).view(300, 256, 2, -1).mean(1)
    assert torch.allclose(again, estimate, atol=1e-12)


def test_the_weights_are_normalised_and_finite_far_from_the_prior():
    prior = small_prior()
    post = ExactPosterior(prior, 3)
    y = torch.full((2, prior.dim), 1e3, dtype=torch.float64)
    log_w = post.log_weights(y)
    assert torch.isfinite(log_w).all() and torch.allclose(log_w.exp().sum(1), torch.ones(2, dtype=torch.float64))
    assert math.isclose(len(post.tuples), prior.n_classes ** 3)
