"""pit: supervised regression with permutation-invariant training (upper bound of regression).

Algorithm (Yu et al. 2017, PIT; backbone called once at t = 0 through the FLOSS bridge):
  1. x0 = 1 s_bar + Pp z;  s_hat = x0 + v(x0, 0, m)          (sums to m by construction)
  2. L = min_pi sum_k loss(s_hat_k, s_pi(k))                   (MSE on images, thr. SNR on audio;
                                                               silent references: FUSS's mixture threshold)
"""

import torch

from surf_bench.maths.losses import pairwise_regression_cost
from surf_bench.maths.pit import best_permutation
from surf_bench.method import Method


def pit_regression_loss(est: torch.Tensor, ref: torch.Tensor, modality: str, tau: float,
                        mix: torch.Tensor | None = None) -> torch.Tensor:
    cost = pairwise_regression_cost(est, ref, modality, tau, mix)  # [B, K, K]; silent refs relative to mix
    perm = best_permutation(cost.detach())
    return cost.gather(2, perm.unsqueeze(-1)).mean()


class PIT(Method):
    name = "pit"
    description = "supervised PIT regression (upper bound for regression methods)"
    kind = "regression"
    supervised = True

    def training_loss(self, batch) -> torch.Tensor:
        est = self.regress(self.net, batch.mix, self.n_slots)
        return pit_regression_loss(est, batch.sources, self.spec.modality, self.cfg.unsup.snr_tau, batch.mix)


METHOD = PIT
