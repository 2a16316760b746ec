"""surf_rm: SURF with the ReMixIT loss (SURF paper, ICML 2026), unsupervised flow.

Algorithm, per batch of mixtures m (teacher T and student S start from the MixIT separator):
  1. S~ = T(m)                      teacher flow samples pseudo-sources (no grad, consistent)
  2. X~1 = Pi S~, M~ = sum_k X~1     remix across the batch
  3. X~0 from M~; Upsilon = PIT with the student's t = 0 velocity
  4. R_t = v_S(X~_t, t, M~) - (Upsilon X~1 - X~0)
  5. L = E || R_t ||^2
  6. theta_T <- alpha theta_T + (1 - alpha) theta_S
"""

import torch

from surf_bench.maths.surf import PRESET_DEFAULTS, surf_step, weighted_mean
from surf_bench.method import Method


class SURFRM(Method):
    name = "surf_rm"
    description = "SURF-RM: flow student learns the teacher flow's remixed pseudo-sources (PIT-FM)"
    kind = "flow"
    uses_teacher = True
    init_from = "mixit"
    preset_defaults = PRESET_DEFAULTS

    def training_loss(self, batch) -> torch.Tensor:
        step = surf_step(self, batch.mix)
        return weighted_mean(step.residual.pow(2), self.loss_weights(step.new_mix))


METHOD = SURFRM
