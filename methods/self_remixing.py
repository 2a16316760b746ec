"""self_remixing: Self-Remixing (Saijo & Ogawa 2023), unsupervised regression with an EMA teacher.

Algorithm, per batch of mixtures m (teacher T, the "shuffler", and student S, the "solver",
start from the MixIT separator):
  1. s_T = T(m)                          (no grad, mixture-consistent)
  2. s~ = Pi s_T;  m~_b = sum_k s~_bk     (remix across the batch)
  3. s_S = S(m~), aligned to s~ by PIT     (Upsilon)
  4. m_hat = (I_B (x) 1^T) Pi^-1 Upsilon^-1 s_S   (un-shuffle, sum per original mixture)
  5. L = L(m, m_hat)                     (reconstruct the ORIGINAL mixtures; thr. SNR / MSE)
  6. theta_T <- alpha theta_T + (1 - alpha) theta_S
"""

import torch

from surf_bench.maths.losses import pairwise_regression_cost, regression_loss
from surf_bench.maths.pit import best_permutation, invert_permutation, permute_slots
from surf_bench.method import Method


class SelfRemixing(Method):
    name = "self_remixing"
    description = "Self-Remixing: un-shuffled student estimates must rebuild the original mixtures"
    kind = "regression"
    uses_teacher = True
    init_from = "mixit"
    # quick: fine-tune the mixit cell for 1500 steps; the EMA (0.99 per step) and the K-slot start kept
    # after the validation A/B of benchmarks/params/ab_mnist2_mini_quick.yaml (docs/results.md, "Validation A/B
    # under the protocol").
    preset_defaults = {"quick": {"train.steps": 1500}, "paper": {"unsup.ema_every": "epoch", "unsup.ema_decay": 0.8,
                                 "unsup.remix_mode": "per_slot_constrained", "train.lr": 2e-4}}

    def training_loss(self, batch) -> torch.Tensor:
        teacher_estimates = self.pseudo_sources(batch.mix)
        remix = self.draw_remix(len(batch.mix))
        targets = remix.apply(teacher_estimates)
        student_estimates = self.separator(self.net, targets.sum(1))
        cost = pairwise_regression_cost(student_estimates, targets, self.spec.modality, self.cfg.unsup.snr_tau,
                                        targets.sum(1))
        perm = best_permutation(cost.detach())  # student slot i <-> target slot perm[i]
        in_target_order = permute_slots(student_estimates, invert_permutation(perm))
        reconstruction = remix.invert(in_target_order).sum(1)
        item_loss = regression_loss(reconstruction.unsqueeze(1), batch.mix.unsqueeze(1), self.spec.modality,
                                    self.cfg.unsup.snr_tau)
        return item_loss.mean()


METHOD = SelfRemixing
