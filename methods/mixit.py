"""mixit: mixture invariant training (Wisdom et al. 2020, NeurIPS), unsupervised.

Algorithm, per batch of mixtures (paired into B/2 mixtures of mixtures):
  1. mm = m_a + m_b                                            (mixture of two mixtures)
  2. s_hat = x0 + v(x0, 0, mm) with M = 2K slots              (regression through the bridge)
  3. L = min_A sum_i L(m_i, (A s_hat)_i)  over the 2^M binary assignments A
Test time: separate m into M outputs, keep the K most energetic, enforce mixture consistency.
This separator initialises remixit, self_remixing, surf_rm and surf_sr.
"""

import torch

from surf_bench.maths.mixit import mixit_loss, top_k_consistent
from surf_bench.method import Method


class MixIT(Method):
    name = "mixit"
    description = "MixIT: separate mixtures of mixtures into 2K slots (initialises the remixing methods)"
    kind = "regression"
    slot_factor = 2

    def training_loss(self, batch) -> torch.Tensor:
        pairs = batch.mix[: len(batch.mix) // 2 * 2].view(-1, 2, *batch.mix.shape[1:])  # [B/2, 2, *S]
        mixture_of_mixtures = pairs.sum(1)
        est = self.regress(self.net, mixture_of_mixtures, self.slot_factor * self.n_slots)
        return mixit_loss(est, pairs, self.spec.modality, self.cfg.unsup.snr_tau)

    def separate(self, mix, nfe=None, generator=None):
        with torch.no_grad():
            est = self.regress(self.net, mix, self.slot_factor * self.n_slots, generator)
            return top_k_consistent(est, self.n_slots, mix)


METHOD = MixIT
