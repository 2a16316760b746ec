"""An unsupervised selection criterion: remix consistency on mixtures alone (docs/architecture.md,
"Protocol").

For a setting where not even the validation split has clean sources, a separator is judged by how
well its estimates survive a remix, the Self-Remixing reconstruction (Saijo & Ogawa 2023) without
training: separate a block of B mixtures, s = f(m); remix the estimates with the constrained per-slot
remix (new mixture b takes slot k of mixture sigma_k(b), from K distinct mixtures), m~ = sum_k s~_k;
separate again, s' = f(m~); align s' to s~ by PIT (MSE); put every estimate back at its original
mixture and sum, m_hat; score

    remix_error_db = 10 log10(||m - m_hat||^2 / ||m||^2)     per mixture, lower is better.

A perfect separator gives m_hat = m; a do-nothing one (m / K in every slot) does not, since its
remixed estimates belong to no single mixture. The remix is drawn from a fixed seed, so every method
is judged on the same remixes. Only mixtures are read.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.base import SourceSplit, mixture_sum
from ..maths.pit import best_permutation, invert_permutation, pairwise_mse, permute_slots
from ..maths.remix import draw_remix

SEED = 4321


def remix_consistency(method, split: SourceSplit, cfg, device: str, nfe: int | None = None) -> dict:
    """{"remix_error_db": mean, "remix_error_db_items": per-item values} over the scored items."""
    spec = split.spec
    count = len(split) if cfg.eval.n_items in (0, None) else min(cfg.eval.n_items, len(split))
    block = max(spec.n_slots, min(cfg.eval.batch_size, count))
    errors = []
    generator = torch.Generator().manual_seed(SEED)
    for start in range(0, count - spec.n_slots + 1, block):
        index = torch.arange(start, min(count, start + block))
        if len(index) < spec.n_slots:
            break
        mix = mixture_sum(split.mixtures(index), spec).to(device)
        noise = torch.Generator().manual_seed(cfg.eval.seed + start)
        est = method.separate(mix, nfe=nfe, generator=noise)
        remix = draw_remix(len(mix), spec.n_slots, "per_slot_constrained", generator, device)
        targets = remix.apply(est)
        again = method.separate(targets.sum(1), nfe=nfe, generator=noise)
        perm = best_permutation(pairwise_mse(again, targets))  # again slot i <-> target slot perm[i]
        back = remix.invert(permute_slots(again, invert_permutation(perm))).sum(1)
        err = (mix - back).flatten(1).pow(2).sum(1)
        energy = mix.flatten(1).pow(2).sum(1).clamp_min(1e-12)
        errors.append((10 * torch.log10(err.clamp_min(1e-12) / energy)).double().cpu().numpy())
    values = np.concatenate(errors) if errors else np.array([])
    return {"remix_error_db": float(values.mean()) if len(values) else float("nan"),
            "remix_error_db_items": values}
