"""The SURF step shared by surf_rm and surf_sr (SURF paper, steps 1-4).

  1. S~ = T(m) sampled by the teacher flow (no grad, ``unsup.teacher_nfe`` steps of ``flow.sampler``), projected
     to sum exactly to each mixture;
  2. remix: X~1 = Pi S~ (a permutation of the B*K rows), M~_b = sum_k X~1_bk;
  3. X~0 = 1 M~/K + Pp z; Upsilon = the PIT permutation from the student's no-grad v_S(X~0, 0, M~);
  4. R_t = v_S(X~_t, t, M~) - (Upsilon X~1 - X~0), t ~ p(t).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import flow
from .pit import best_permutation, invert_permutation, pairwise_mse, permute_slots
from .remix import Remix

# quick: fine-tune the 3000-step mixit cell for 1500 steps with an EMA of 0.999 per step, t ~ beta_low
# with 20% of the steps at t = 0, the K-slot MixIT start and the one-step teacher, chosen by the
# validation A/B of benchmarks/params/ab_mnist2_mini_quick.yaml (docs/results.md, "Validation A/B under the
# protocol"; surf_sr keeps its own EMA). paper: the teacher samples its flow with 5 Euler steps once the
# student has had 10k steps (of 200k) of the one-step teacher to learn t > 0 (the MixIT start never
# trained at t > 0); not validated at that scale.
PRESET_DEFAULTS = {"quick": {"train.steps": 1500, "unsup.ema_decay": 0.999, "flow.t0_prob": 0.2,
                             "flow.t_dist": "beta_low"},
                   "paper": {"unsup.teacher_nfe": 5, "unsup.teacher_warmup": 10_000}}


@dataclass
class SurfStep:
    residual: torch.Tensor  # R_t [B, K, *S], slots in the student's (Upsilon) order
    upsilon: torch.Tensor  # [B, K]: student slot i was matched to remixed slot upsilon[b, i]
    remix: Remix
    t: torch.Tensor  # [B]
    x0: torch.Tensor  # noise end X~0 of the remixed mixtures
    x1_aligned: torch.Tensor  # Upsilon X~1
    new_mix: torch.Tensor  # M~ [B, *S]


def surf_step(method, mix: torch.Tensor, pseudo_sources: torch.Tensor | None = None) -> SurfStep:
    """Steps 1-4 above for a batch of mixtures (sums of sources) [B, *S]."""
    n_slots = method.n_slots
    teacher_sources = method.pseudo_sources(mix) if pseudo_sources is None else pseudo_sources
    remix = method.draw_remix(len(mix))
    x1 = remix.apply(teacher_sources)
    new_mix = x1.sum(1)
    x0 = method.noise_end(new_mix, n_slots)
    velocity = method.velocity(method.net, new_mix / n_slots)
    with torch.no_grad():
        t0 = torch.zeros(len(mix), device=mix.device)
        upsilon = best_permutation(pairwise_mse(velocity(x0, t0) + x0, x1))
    x1_aligned = permute_slots(x1, upsilon)
    cfg = method.cfg.flow
    t = flow.sample_times(len(mix), cfg.t_dist, cfg.t0_prob, method.generator, mix.device)
    residual = flow.flow_residual(velocity, x0, x1_aligned, t, cfg.loss)
    return SurfStep(residual=residual, upsilon=upsilon, remix=remix, t=t, x0=x0, x1_aligned=x1_aligned,
                    new_mix=new_mix)


def unshuffled_sum(step: SurfStep) -> torch.Tensor:
    """(I_B (x) 1^T) Pi^-1 Upsilon^-1 R_t: residuals back at their original mixture, summed [B, *S]."""
    in_remix_order = permute_slots(step.residual, invert_permutation(step.upsilon))
    return step.remix.invert(in_remix_order).sum(1)


def weighted_mean(squares: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-element squares [B, ...], each item weighted (``Method.loss_weights``) when given."""
    if weights is None:
        return squares.mean()
    return (squares.flatten(1).mean(1) * weights).mean()
