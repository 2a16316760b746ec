"""surf_sr: SURF with the Self-Remixing loss (SURF paper, ICML 2026), unsupervised flow.

Algorithm, per batch of mixtures m (teacher T and student S start from the MixIT separator):
  1. S~ = T(m)                      teacher flow samples pseudo-sources (no grad, consistent)
  2. X~1 = Pi S~, M~ = sum_k X~1     remix across the batch
  3. X~0 from M~; Upsilon = PIT with the student's t = 0 velocity
  4. R_t = v_S(X~_t, t, M~) - (Upsilon X~1 - X~0)
  5. L = E || (I_B (x) 1^T) Pi^-1 Upsilon^-1 R_t ||^2   (residuals summed per ORIGINAL mixture;
     equals || m_hat - m ||^2 / (1 - t)^2 for the denoised estimates when the t are shared)
  6. theta_T <- alpha theta_T + (1 - alpha) theta_S
"""

import torch

from surf_bench.maths.surf import PRESET_DEFAULTS, surf_step, unshuffled_sum, weighted_mean
from surf_bench.method import Method


class SURFSR(Method):
    name = "surf_sr"
    description = "SURF-SR: flow student's residuals, un-shuffled, must sum to zero per original mixture"
    kind = "flow"
    uses_teacher = True
    init_from = "mixit"
    # SURF's shared quick defaults (surf_bench/maths/surf.py) but the EMA, 0.99 per step: a tie with 0.999 on
    # validation, moved under the earlier argmax rule and due for a seeded re-run (docs/results.md, "Validation
    # A/B under the protocol").
    preset_defaults = {**PRESET_DEFAULTS, "quick": {**PRESET_DEFAULTS["quick"], "unsup.ema_decay": 0.99}}

    def training_loss(self, batch) -> torch.Tensor:
        step = surf_step(self, batch.mix)
        return weighted_mean(unshuffled_sum(step).pow(2), self.loss_weights(batch.mix))


METHOD = SURFSR
