"""Audio metrics: SI-SDR with PIT (Le Roux et al. 2019, "SDR - half-baked or well done?") and the
FUSS evaluation protocol (Wisdom et al. 2021; google-research/sound-separation,
models/dcase2020_fuss_baseline/evaluate_lib.py).

SI-SDR(s_hat, s) = 10 log10(||a s||^2 / ||a s - s_hat||^2), a = <s_hat, s> / ||s||^2, after removing the
means. With rho = <s_hat, s> / (||s_hat|| ||s||) this is 10 log10(rho^2 / (1 - rho^2)), which needs only
the Gram matrix of the signals: batched float64 matmuls (accumulated over time chunks) score every
(estimate, reference) pair and the mixture at once. Normalised powers get EPS = 1e-12, so values lie
in [-120, 120] dB (a silent estimate scores -120 dB instead of NaN).

Alignment: estimates are assigned to references to maximise the summed SI-SDR over the *active*
references; inactive (all-zero) references cost 0, which is what FUSS's PIT does (their SI-SNR is a
constant -80 dB for every estimate). FUSS activity rules, as in evaluate_lib.py:
- a reference is active when its RMS > 1e-8;
- an estimate is active when its power mean(s_hat^2) > 0.01 x the power of the quietest active
  reference of the mixture (-20 dB);
- a pair is scored when its reference and its aligned estimate are both active.
"""

from __future__ import annotations

import numpy as np
import torch

from ..maths.pit import best_permutation, invert_permutation

EPS = 1e-12
GRAM_BLOCK = 1 << 23  # float64 values per block of the Gram accumulation (64 MiB)
REF_ACTIVE_RMS = 1e-8
EST_ACTIVE_RATIO = 0.01


def _gram(parts: list[torch.Tensor], zero_mean: bool, block_size: int = GRAM_BLOCK):
    """(Gram matrix [B, N, N] of the rows of the concatenated parts, raw powers mean(x^2) [B, N]).

    Accumulated in float64 over time chunks copied into one small buffer (no full-size float64
    copy); a row of ones gives the row sums S, and G - S S^T / T removes the means.
    """
    batch, length = parts[0].shape[0], parts[0].shape[-1]
    rows = sum(p.shape[1] for p in parts)
    chunk = max(1024, block_size // (batch * (rows + 1)))  # few large matmuls: cheap on busy cores
    buf = torch.empty(batch, rows + 1, min(chunk, length), dtype=torch.float64, device=parts[0].device)
    buf[:, rows] = 1.0
    total = torch.zeros(batch, rows + 1, rows + 1, dtype=torch.float64, device=parts[0].device)
    for start in range(0, length, chunk):
        width = min(chunk, length - start)
        block = buf[..., :width]
        row = 0
        for part in parts:
            block[:, row:row + part.shape[1]].copy_(part[..., start:start + width])
            row += part.shape[1]
        total += block @ block.transpose(1, 2)
    gram, sums = total[:, :rows, :rows], total[:, :rows, rows]
    power = gram.diagonal(dim1=1, dim2=2) / length
    if zero_mean:
        gram = gram - sums[:, :, None] * sums[:, None, :] / length
    return gram, power


def si_sdr_from_gram(ee: torch.Tensor, rr: torch.Tensor, er: torch.Tensor) -> torch.Tensor:
    """SI-SDR = 10 log10((rho^2 + EPS) / (1 - rho^2 + EPS)) from energies and the inner product."""
    rho2 = (er * er / (ee * rr).clamp_min(1e-300)).clamp(0, 1)
    return 10 * torch.log10((rho2 + EPS) / (1 - rho2 + EPS))


def pairwise_si_sdr(est: torch.Tensor, refs: torch.Tensor, zero_mean: bool = True) -> torch.Tensor:
    """pair[b, i, j] = SI-SDR(est[b, i], refs[b, j]) for est [B, M, T], refs [B, K, T]; float64."""
    m = est.shape[1]
    gram, _ = _gram([est, refs], zero_mean)
    diag = gram.diagonal(dim1=1, dim2=2)
    return si_sdr_from_gram(diag[:, :m, None], diag[:, None, m:], gram[:, :m, m:])


def assign(pair: torch.Tensor, ref_active: torch.Tensor) -> torch.Tensor:
    """index[b, j] = estimate aligned to reference j, maximising sum_j active SI-SDR(est, ref_j)."""
    score = torch.where(ref_active[:, None, :], pair, torch.zeros_like(pair))
    if pair.shape[1] == pair.shape[2]:
        return invert_permutation(best_permutation(-score))
    from scipy.optimize import linear_sum_assignment  # rectangular: more estimates than references

    rows = [linear_sum_assignment(-s.T.cpu().numpy())[1] for s in score]
    return torch.as_tensor(np.stack(rows), device=pair.device)


def sisdr_pit(est: torch.Tensor, refs: torch.Tensor, mix_sum: torch.Tensor, zero_mean: bool = True):
    """(SI-SDR, SI-SDRi) per item: mean over the K slots under the permutation of highest SI-SDR."""
    slots = audio_slot_scores(est, refs, mix_sum, zero_mean)
    si, base = slots["si_sdr"], slots["si_sdr_mix"]
    return torch.as_tensor(si.mean(1)), torch.as_tensor((si - base).mean(1))


def audio_slot_scores(est: torch.Tensor, refs: torch.Tensor, mix_sum: torch.Tensor,
                      zero_mean: bool = True) -> dict[str, np.ndarray]:
    """Per reference slot, after alignment: the raw material of both protocols (see ``summarise``).

    Returns numpy arrays: si_sdr [B, K] (aligned estimate vs reference; NaN for inactive refs),
    si_sdr_mix [B, K] (mixture vs reference), ref_active [B, K], est_active [B, K] (aligned estimate
    active), n_est [B] (active estimates among all M), est_index [B, K] (aligned estimate).
    """
    m, k = est.shape[1], refs.shape[1]
    gram, power = _gram([est, refs, mix_sum.unsqueeze(1)], zero_mean)
    diag = gram.diagonal(dim1=1, dim2=2)
    pair = si_sdr_from_gram(diag[:, :m, None], diag[:, None, m:m + k], gram[:, :m, m:m + k])
    mix = si_sdr_from_gram(diag[:, -1:], diag[:, m:m + k], gram[:, -1, m:m + k])
    est_power, ref_power = power[:, :m], power[:, m:m + k]
    ref_active = ref_power.sqrt() > REF_ACTIVE_RMS
    quietest = torch.where(ref_active, ref_power, torch.full_like(ref_power, float("inf"))).amin(1)
    est_on = (est_power > EST_ACTIVE_RATIO * quietest[:, None]) & ref_active.any(1, keepdim=True)
    index = assign(pair, ref_active)
    aligned = pair.gather(1, index.unsqueeze(1)).squeeze(1)
    nan = torch.full_like(aligned, float("nan"))
    return {
        "si_sdr": torch.where(ref_active, aligned, nan).cpu().numpy(),
        "si_sdr_mix": torch.where(ref_active, mix, nan).cpu().numpy(),
        "ref_active": ref_active.cpu().numpy(),
        "est_active": est_on.gather(1, index).cpu().numpy(),
        "n_est": est_on.sum(1).cpu().numpy(),
        "est_index": index.cpu().numpy(),
    }


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the True entries of each row that are finite; NaN for rows with none."""
    ok = mask & np.isfinite(values)
    count = ok.sum(1)
    total = np.where(ok, values, 0.0).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def summarise(raw: dict[str, np.ndarray], protocol: str) -> dict[str, np.ndarray]:
    """Per-item columns from slot scores under ``protocol``.

    pit: every active reference is scored (all K slots for 2-speaker speech); si_sdr and si_sdri
    are the means over those slots.
    fuss: only active pairs are scored; si_sdr is their mean; si_sdri too, except that 1-source
    mixtures have no SI-SDRi (NaN: they report SI-SDR, reconstruction); adds n_src (active
    references), n_est (active estimates) and n_pairs (scored pairs). sdr / pesq are averaged over
    the same pairs (finite values only).
    """
    ref_active = raw["ref_active"]
    pairs = ref_active if protocol == "pit" else ref_active & raw["est_active"]
    out = {"si_sdr": _masked_mean(raw["si_sdr"], pairs),
           "si_sdri": _masked_mean(raw["si_sdr"] - raw["si_sdr_mix"], pairs)}
    for name in ("sdr", "pesq"):
        if name in raw:
            out[name] = _masked_mean(raw[name], pairs)
    if protocol == "fuss":
        n_src = ref_active.sum(1)
        out["si_sdri"] = np.where(n_src == 1, np.nan, out["si_sdri"])
        out.update(n_src=n_src, n_est=raw["n_est"], n_pairs=pairs.sum(1))
    return out


def has_silent_slots(raw: dict[str, np.ndarray]) -> bool:
    """True when some reference slot is all-zero: the data set is FUSS-like (1-4 active sources)."""
    return bool((~raw["ref_active"]).any())
