"""remixit: ReMixIT (Tzinis et al. 2022), unsupervised regression with an EMA teacher.

Algorithm, per batch of mixtures m (teacher T and student S start from the MixIT separator):
  1. s_T = T(m)                        (no grad, mixture-consistent)
  2. s~ = Pi s_T;  m~_b = sum_k s~_bk   (remix the estimates across the batch)
  3. s_S = S(m~)
  4. L = min_pi sum_k L(s_S_k, s~_pi(k))   (PIT; audio: -SI-SDR clamped to +-30 dB; images: MSE)
  5. theta_T <- alpha theta_T + (1 - alpha) theta_S
"""

import torch

from surf_bench.maths.losses import neg_si_sdr_clamped, pairwise_regression_cost
from surf_bench.maths.pit import best_permutation
from surf_bench.method import Method


class ReMixIT(Method):
    name = "remixit"
    description = "ReMixIT: student learns the teacher's remixed estimates with PIT (EMA teacher)"
    kind = "regression"
    uses_teacher = True
    init_from = "mixit"
    # quick: fine-tune the mixit cell for 1500 steps with an EMA of 0.999 per step and the K-slot start,
    # chosen by the validation A/B of benchmarks/params/ab_mnist2_mini_quick.yaml (docs/results.md, "Validation
    # A/B under the protocol").
    preset_defaults = {"quick": {"train.steps": 1500, "unsup.ema_decay": 0.999},
                       "paper": {"unsup.ema_every": "epoch", "unsup.ema_decay": 0.99, "unsup.remix_mode": "per_slot"}}

    def training_loss(self, batch) -> torch.Tensor:
        teacher_estimates = self.pseudo_sources(batch.mix)
        remix = self.draw_remix(len(batch.mix))
        targets = remix.apply(teacher_estimates)
        student_estimates = self.separator(self.net, targets.sum(1))
        if self.spec.modality == "audio":
            cost = neg_si_sdr_clamped(student_estimates.unsqueeze(2), targets.unsqueeze(1), self.cfg.unsup.sisdr_clamp)
        else:
            cost = pairwise_regression_cost(student_estimates, targets, "image")
        perm = best_permutation(cost.detach())
        return cost.gather(2, perm.unsqueeze(-1)).mean()


METHOD = ReMixIT
