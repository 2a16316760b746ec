"""Remixing across the batch, with its exact inverse (docs/architecture.md, "Methods").

Estimates [B, K, *S] are viewed as B*K rows; a remix is a permutation ``index`` of the rows:
new rows = rows[index], regrouped into B new mixtures of K slots.
- ``uniform``: a uniform permutation of all B*K rows [SURF paper];
- ``per_slot``: one batch permutation per slot k, new[b, k] = old[sigma_k(b), k] [ReMixIT];
- ``per_slot_constrained``: as per_slot, with the K sources of every new mixture drawn from K
  distinct original mixtures [Self-Remixing code]; needs B >= K.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Remix:
    index: torch.Tensor  # [B*K] long, a permutation of the rows
    batch: int
    n_slots: int

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """new[r] = old[index[r]] over the flattened (batch, slot) rows."""
        rows = x.reshape(self.batch * self.n_slots, *x.shape[2:])
        return rows[self.index].reshape(x.shape)

    def invert(self, y: torch.Tensor) -> torch.Tensor:
        """Exact inverse of :meth:`apply`: old[index[r]] = new[r]."""
        rows = y.reshape(self.batch * self.n_slots, *y.shape[2:])
        out = torch.empty_like(rows)
        out[self.index] = rows
        return out.reshape(y.shape)

    def origin(self) -> torch.Tensor:
        """origin[b, k] = original mixture of the source now in slot k of new mixture b."""
        return (self.index // self.n_slots).view(self.batch, self.n_slots)


def draw_remix(batch: int, n_slots: int, mode: str, generator: torch.Generator | None = None,
               device="cpu") -> Remix:
    rows = batch * n_slots
    if mode == "uniform":
        index = torch.randperm(rows, generator=generator)
    elif mode in ("per_slot", "per_slot_constrained"):
        if mode == "per_slot":
            sigmas = torch.stack([torch.randperm(batch, generator=generator) for _ in range(n_slots)], 1)
        else:
            if batch < n_slots:
                raise ValueError(f"constrained remixing needs batch >= slots ({batch} < {n_slots})")
            order = torch.randperm(batch, generator=generator)
            offsets = torch.randperm(batch, generator=generator)[:n_slots]  # distinct offsets
            position = torch.arange(batch)
            sigmas = order[(position[:, None] + offsets[None, :]) % batch]  # [B, K], rows distinct
        slot = torch.arange(n_slots)
        index = (sigmas * n_slots + slot[None, :]).reshape(-1)
    else:
        raise ValueError(f"unknown remix mode {mode!r}")
    return Remix(index=index.to(device), batch=batch, n_slots=n_slots)
