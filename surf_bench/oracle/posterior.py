"""The exact posterior of K sources drawn from a Gaussian-mixture prior given their sum
(docs/architecture.md, "Oracle datasets").

Sources x_k ~ sum_c pi_c N(mu_c, Sigma_c) independently, Sigma_c = F_c F_c^T + s2_c I (prior.py),
observed y = sum_k x_k. For an ordered class tuple c = (c_1..c_K), with S_c = sum_k Sigma_ck:

- weight      w_c(y) ∝ prod_k pi_ck N(y; sum_k mu_ck, S_c)
- mean        E[x_k | y, c] = mu_ck + Sigma_ck S_c^-1 (y - sum_j mu_cj)
- sample      c ~ w(y); x_k ~ N(mu_ck, Sigma_ck) independently; x_k += Sigma_ck S_c^-1 (y - sum_j x_j)
              (Matheron's rule: the conditional of a Gaussian by correcting a prior draw)

S_c depends on the multiset of classes only. With W = [F_c1 .. F_cK] (D x Kr), s = sum_k s2_ck and
A = s I + W^T W (Woodbury), for r = y - sum mu (or the draw's residual):

    a = A^-1 W^T r,   Sigma_ck S_c^-1 r = F_ck a_k + (s2_ck / s) (r - W a)
    r^T S_c^-1 r = (r^T r - (W^T r)^T a) / s,   log det S_c = (D - Kr) log s + log det A

so nothing larger than Kr x Kr is factorised. Under PIT the best point estimate is not the plain
posterior mean (which is y / K in every slot, by the slots' symmetry) but the permutation-aligned
mean: the x_hat with x_hat = E[pi*(x; x_hat) x | y], found here by Lloyd iterations over exact
samples (:meth:`ExactPosterior.pit_mean`). Computed in float64.
"""

from __future__ import annotations

import itertools
import math

import torch

from ..maths.pit import best_permutation, pairwise_mse, permute_slots
from .prior import GaussianMixturePrior

CHUNK_ELEMENTS = 1 << 24  # bound on the gathered factors of one chunk of draws (float64: 128 MiB)


class ExactPosterior:
    """p(x_1..x_K | y) for sources of ``prior``; y and every output are flat [.., D] in float64."""

    def __init__(self, prior: GaussianMixturePrior, n_slots: int):
        self.prior = prior
        self.n_slots = k = n_slots
        self.log_pi = prior.weights.double().log()
        self.means = prior.means.double()  # [C, D]
        self.factors = prior.factors.double()  # [C, D, r]
        self.noise_var = prior.noise_var.double()  # [C]
        c, d, r = self.factors.shape
        self.dim, self.rank = d, r
        self.tuples = torch.tensor(list(itertools.product(range(c), repeat=k)), dtype=torch.long)  # [T, K]
        multisets, self.multiset_of = torch.unique(self.tuples.sort(1).values, dim=0, return_inverse=True)
        self.multisets = multisets  # [M, K]
        # Per multiset: s, W^T W, Cholesky of A = s I + W^T W, log det S, sum of means and W^T sum(mu).
        self.total_noise = self.noise_var[multisets].sum(1)  # [M]
        w = self.factors[multisets]  # [M, K, D, r]
        wide = w.permute(0, 2, 1, 3).reshape(len(multisets), d, k * r)  # [M, D, Kr]
        gram = wide.transpose(1, 2) @ wide
        eye = torch.eye(k * r, dtype=torch.float64)
        self.chol = torch.linalg.cholesky(gram + self.total_noise.view(-1, 1, 1) * eye)
        self.logdet = ((d - k * r) * self.total_noise.log()
                       + 2 * self.chol.diagonal(dim1=1, dim2=2).log().sum(1))
        # A per ordered tuple (its blocks in the tuple's slot order), for the per-slot corrections.
        tw = self.factors[self.tuples].permute(0, 2, 1, 3).reshape(len(self.tuples), d, k * r)
        self.tuple_chol = torch.linalg.cholesky(tw.transpose(1, 2) @ tw
                                                + self.noise_var[self.tuples].sum(1).view(-1, 1, 1) * eye)
        self.mean_sum = self.means[multisets].sum(1)  # [M, D]
        self.proj_mean_sum = (wide.transpose(1, 2) @ self.mean_sum.unsqueeze(-1)).squeeze(-1)  # [M, Kr]
        self.log_prior_tuples = self.log_pi[self.tuples].sum(1)  # [T]

    # --- weights over ordered class tuples ---------------------------------------------------
    def log_weights(self, y: torch.Tensor) -> torch.Tensor:
        """log w_c(y) [B, T], normalised over the C^K ordered tuples."""
        y = y.double()
        k, r = self.n_slots, self.rank
        proj_y = torch.einsum("bd,cdr->bcr", y, self.factors)  # [B, C, r]
        wty = proj_y[:, self.multisets].reshape(len(y), len(self.multisets), k * r)  # [B, M, Kr]
        wtr = wty - self.proj_mean_sum  # W^T (y - sum mu)
        rr = (y.pow(2).sum(1, keepdim=True) - 2 * y @ self.mean_sum.T + self.mean_sum.pow(2).sum(1))  # [B, M]
        a = torch.cholesky_solve(wtr.permute(1, 2, 0), self.chol).permute(2, 0, 1)  # [B, M, Kr]
        quad = (rr - (wtr * a).sum(-1)) / self.total_noise
        log_lik = -0.5 * (self.dim * math.log(2 * math.pi) + self.logdet + quad)  # [B, M]
        logits = self.log_prior_tuples + log_lik[:, self.multiset_of]
        return logits - logits.logsumexp(1, keepdim=True)

    # --- the Gaussian correction shared by the component means and Matheron's rule -------------
    def _correct(self, base: torch.Tensor, y: torch.Tensor, tuples: torch.Tensor) -> torch.Tensor:
        """base [N, K, D] (a draw or the prior means of ``tuples`` [N, K]) + Sigma_ck S_c^-1 (y - sum_k base_k)."""
        k, r = self.n_slots, self.rank
        residual = y - base.sum(1)  # [N, D]
        factors = self.factors[tuples]  # [N, K, D, r]
        wtr = torch.einsum("nd,nkdr->nkr", residual, factors).reshape(len(base), k * r)
        chol = self.tuple_chol[self._tuple_index(tuples)]  # [N, Kr, Kr]
        a = torch.cholesky_solve(wtr.unsqueeze(-1), chol).squeeze(-1).view(len(base), k, r)
        fa = torch.einsum("nkdr,nkr->nkd", factors, a)  # F_ck a_k
        s2 = self.noise_var[tuples]  # [N, K]
        share = (s2 / s2.sum(1, keepdim=True)).unsqueeze(-1)
        return base + fa + share * (residual - fa.sum(1)).unsqueeze(1)

    def _tuple_index(self, tuples: torch.Tensor) -> torch.Tensor:
        c = len(self.log_pi)
        powers = c ** torch.arange(self.n_slots - 1, -1, -1)
        return (tuples * powers).sum(1)

    def _chunks(self, n: int):
        size = max(1, CHUNK_ELEMENTS // (self.n_slots * self.dim * self.rank))
        for start in range(0, n, size):
            yield slice(start, min(n, start + size))

    def component_means(self, y: torch.Tensor, tuples: torch.Tensor) -> torch.Tensor:
        """E[x | y, c] [N, K, D] for mixtures y [N, D] and ordered tuples [N, K]."""
        y = y.double()
        out = [self._correct(self.means[tuples[s]], y[s], tuples[s]) for s in self._chunks(len(y))]
        return torch.cat(out)

    def sample(self, y: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """n exact posterior samples per mixture: [B, n, K, D] (each sums to its y)."""
        y = y.double()
        batch, k = len(y), self.n_slots
        picks = torch.multinomial(self.log_weights(y).exp(), n, replacement=True, generator=generator)  # [B, n]
        tuples = self.tuples[picks.flatten()]  # [B n, K]
        targets = y.repeat_interleave(n, 0)
        out = []
        for s in self._chunks(len(tuples)):
            c = tuples[s]
            eps = torch.randn(len(c), k, self.rank, generator=generator, dtype=torch.float64)
            eta = torch.randn(len(c), k, self.dim, generator=generator, dtype=torch.float64)
            draw = (self.means[c] + torch.einsum("nkdr,nkr->nkd", self.factors[c], eps)
                    + self.noise_var[c].sqrt().unsqueeze(-1) * eta)
            out.append(self._correct(draw, targets[s], c))
        return torch.cat(out).view(batch, n, k, self.dim)

    def pit_mean(self, y: torch.Tensor, samples: torch.Tensor, max_iter: int = 50) -> torch.Tensor:
        """The PIT-aligned posterior mean [B, K, D] from exact samples [B, n, K, D] (Lloyd iterations).

        x_hat <- mean_i pi_i x_i with pi_i = argmin_pi ||x_hat - pi x_i||^2, started from the mean of
        the most probable ordered class tuple; stops when no sample changes its permutation. Each
        step lowers the Monte Carlo PIT loss, so it ends at a fixed point (a local minimum)."""
        batch, n, k, d = samples.shape
        best = self.tuples[self.log_weights(y).argmax(1)]
        estimate = self.component_means(y, best)
        flat = samples.reshape(batch * n, k, d)
        previous = None
        for _ in range(max_iter):
            target = estimate.repeat_interleave(n, 0)
            perm = best_permutation(pairwise_mse(target, flat))
            estimate = permute_slots(flat, perm).view(batch, n, k, d).mean(1)
            if previous is not None and torch.equal(perm, previous):
                break
            previous = perm
        return estimate
