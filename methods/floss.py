"""floss: supervised flow matching for separation (FLOSS; Scheibler et al.).

Algorithm, per batch of (m, s):
  1. x0 = 1 s_bar + Pp z                                          (noise end, sums to m)
  2. pi* = argmin_pi || v(x0, 0, m) - (pi s - x0) ||^2            (PIT on the no-grad t=0 field)
  3. t ~ p(t);  x_t = (1 - t) x0 + t pi* s
  4. L = || v(x_t, t, m) - (pi* s - x0) ||^2
Separation: forward Euler from x0 over ``flow.nfe`` uniform steps.
"""

import torch

from surf_bench.maths import flow
from surf_bench.method import Method


class FLOSS(Method):
    name = "floss"
    description = "supervised flow matching with PIT-FM (FLOSS), the flow upper bound"
    kind = "flow"
    supervised = True
    # quick: t ~ beta_low (most training mass near t = 0, where the first Euler steps are decided) with
    # 20% of the steps at t = 0, chosen by the validation A/B of benchmarks/params/ab_mnist2_mini_quick.yaml
    # among the t-sampling options every flow got (docs/results.md, "Validation A/B under the protocol").
    preset_defaults = {"quick": {"flow.t_dist": "beta_low", "flow.t0_prob": 0.2}}

    def training_loss(self, batch) -> torch.Tensor:
        x0 = self.noise_end(batch.mix, self.n_slots)
        v = self.velocity(self.net, batch.mix / self.n_slots)
        x1 = flow.fm_targets(v, x0, batch.sources)
        t = flow.sample_times(len(x0), self.cfg.flow.t_dist, self.cfg.flow.t0_prob, self.generator, x0.device)
        return flow.fm_loss(v, x0, x1, t, weights=self.loss_weights(batch.mix), space=self.cfg.flow.loss)


METHOD = FLOSS
