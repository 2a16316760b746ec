"""Functional separation metrics and their stable names (docs/architecture.md, "Metrics"; each is
declared once in catalog.py).

``score`` turns one batch of estimates into raw scores (per item for images; per aligned slot for
audio); ``per_item`` turns raw scores into the per-item columns of the protocol; set-level FID is
accumulated by the evaluator (``fid.FidSets``). Names and definitions:

images
  psnr      mean PSNR over the K images of a mixture, peak 1, clamped (unclamped where the data is not
            bounded pixels: DataSpec.bounded), best permutation (image.py)
  lpips     mean LPIPS-AlexNet over the PIT-aligned pairs (same permutation as psnr); lower is better
  fid       set level: FID of all separated images vs the clean test images of the same items
            (Inception-v3 pool, 2048-d; 1 channel replicated to 3); lower is better
audio ("pit" protocol: every reference slot active, e.g. 2-speaker speech)
  si_sdr    mean zero-mean SI-SDR over the K slots under the best permutation (audio.py), in
            [-120, 120] dB
  si_sdri   mean of SI-SDR(estimate) - SI-SDR(mixture) over the same slots
  sdr       BSS Eval v3 SDR (512-tap filter, as mir_eval; clipped to +-120 dB), same pairs and
            alignment (bss.py)
  pesq      PESQ-WB at 16 kHz (resampled), same pairs; NaN for skipped pairs (pesq_wb.py)
audio ("fuss" protocol: chosen automatically when some reference slot is all-zero)
  si_sdr, si_sdri, sdr, pesq   as above over the *active pairs* only (audio.py has the rule);
            si_sdri is undefined (NaN) for 1-source mixtures
  aggregates (pooled over active pairs, as FUSS's evaluate script): si_sdr_1src (SI-SDR of
  1-source mixtures), si_sdri_2src / _3src / _4src, si_sdri_msi (2-4 pooled; equals si_sdri),
  sep_under / sep_equal / sep_over (rate of mixtures with fewer / as many / more active estimates
  than active references); per-item columns n_src, n_est, n_pairs; item counts per source number.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from ..data.base import DataSpec
from ..maths.pit import permute_slots
from . import audio, catalog
from .bss import sdr_aligned
from .image import image_permutation, psnr, psnr_pit
from .pesq_wb import pesq_wb

__all__ = ["score", "per_item", "resolve_protocol", "HIGHER_IS_BETTER", "CORE", "EXTRA", "INFO_COLUMNS"]

# Derived from the declarations in catalog.py (the one place a metric's facts live).
CORE = {modality: catalog.core(modality) for modality in ("image", "audio")}
EXTRA = {modality: catalog.optional(modality) for modality in ("image", "audio")}
INFO_COLUMNS = ("item", "n_src", "n_est", "n_pairs")
HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in catalog.METRICS}


def score(spec: DataSpec, est: torch.Tensor, refs: torch.Tensor, mix_sum: torch.Tensor,
          extras: dict[str, int] | None = None, models: dict | None = None,
          notes: Counter | None = None, labels: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Raw scores of estimates [B, K, *S] against references [B, K, *S] and summed mixtures [B, *S].

    ``extras`` maps a per-item extra metric (lpips, sdr, pesq) to how many leading items of the batch
    get it (the rest are NaN); ``models`` holds loaded networks (``models["lpips"]``, the evaluator
    classifier ``models["cls"]`` with the sources' class ``labels`` [B, K] for acc_cls); skipped
    pairs are counted in ``notes``.
    """
    extras = extras or {}
    notes = notes if notes is not None else Counter()
    batch = est.shape[0]
    if spec.modality == "image":
        perm = image_permutation(est, refs, clamp=spec.bounded)
        aligned = permute_slots(refs, perm)
        out = {"psnr": psnr(est, aligned, clamp=spec.bounded).mean(1).cpu().numpy()}
        if "acc_cls" in extras and labels is not None:
            out["acc_cls"] = np.full(batch, np.nan)
            n = min(batch, extras["acc_cls"])
            if n > 0:
                k = est.shape[1]
                predicted = models["cls"].predict(est[:n].flatten(0, 1)).view(n, k).cpu()
                truth = permute_slots(labels[:n].cpu(), perm[:n].cpu())
                out["acc_cls"][:n] = (predicted == truth).double().mean(1).numpy()
        if "lpips" in extras:
            out["lpips"] = np.full(batch, np.nan)
            n = min(batch, extras["lpips"])
            if n > 0:
                k = est.shape[1]
                dist = models["lpips"](est[:n].flatten(0, 1), aligned[:n].flatten(0, 1))
                out["lpips"][:n] = dist.view(n, k).mean(1).double().cpu().numpy()
        return out
    raw = audio.audio_slot_scores(est, refs, mix_sum)
    for name in ("sdr", "pesq"):
        if name in extras:
            raw[name] = np.full(raw["si_sdr"].shape, np.nan)
    n = max([min(batch, extras.get(name, 0)) for name in ("sdr", "pesq")], default=0)
    for b in range(n):
        active = np.flatnonzero(raw["ref_active"][b])
        if len(active) == 0:
            continue
        ref_np = refs[b, active].double().cpu().numpy()
        est_np = est[b, raw["est_index"][b, active]].double().cpu().numpy()
        if b < extras.get("sdr", 0):
            values = sdr_aligned(ref_np, est_np)
            if np.isnan(values).any():
                notes["sdr: skipped, silent estimate"] += int(np.isnan(values).sum())
            raw["sdr"][b, active] = values
        if b < extras.get("pesq", 0):
            raw["pesq"][b, active] = [pesq_wb(r, e, spec.sample_rate, notes)
                                      for r, e in zip(ref_np, est_np, strict=True)]
    return raw


def resolve_protocol(spec: DataSpec, raws: list[dict], requested: str = "auto") -> str:
    """auto: images -> "pit"; audio -> "fuss" when any reference slot of the set is all-zero, else "pit"."""
    if requested != "auto":
        return requested
    if spec.modality == "image":
        return "pit"
    return "fuss" if any(audio.has_silent_slots(raw) for raw in raws) else "pit"


def per_item(spec: DataSpec, raw: dict[str, np.ndarray], protocol: str) -> dict[str, np.ndarray]:
    """Per-item columns of concatenated raw scores under ``protocol``."""
    if spec.modality == "image":
        return dict(raw)
    return audio.summarise(raw, protocol)


def concat(raws: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate the raw scores of successive batches (every batch has the same keys)."""
    return {key: np.concatenate([np.asarray(raw[key]) for raw in raws]) for key in raws[0]}


__all__ += ["concat", "psnr", "psnr_pit"]
