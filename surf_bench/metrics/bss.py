"""SDR / SIR / SAR of BSS Eval v3 (Vincent, Gribonval & Fevotte 2006, IEEE TASLP 14(4)), the
definition of ``mir_eval.separation.bss_eval_sources``, in numpy (no torch: batched
torch.linalg.solve fails on CPU torch 2.13 with 2 threads, pytorch#142815).

For an estimate s_hat (zero-padded by L - 1 samples) and references s_1..s_n, P_j s_hat is the least
squares projection of s_hat on the L delayed copies of s_j (a length-L distortion filter, L = 512), and
P s_hat its projection on the delayed copies of all references. Then
    SDR_j = 10 log10(||P_j s_hat||^2 / ||s_hat - P_j s_hat||^2)
    SIR_j = 10 log10(||P_j s_hat||^2 / ||P s_hat - P_j s_hat||^2)
    SAR   = 10 log10(||P s_hat||^2 / ||s_hat - P s_hat||^2).
The normal equations G c = d use G[(i,a),(k,b)] = R_ik(a - b) (cross-correlations of the references
at lags |a - b| < L) and d[(i,a)] = sum_t s_hat(t) s_i(t - a), all from one FFT per signal; G is
factorised once per mixture (Cholesky, least squares when singular) and shared by all estimates.
BLAS runs on one thread (threadpoolctl, when importable): right after torch work, multi-threaded
OpenBLAS competes with torch's spinning OpenMP workers and runs 10-20x slower on 2 cores.
"""

from __future__ import annotations

import itertools
from contextlib import nullcontext
from functools import cache

import numpy as np
import scipy.linalg

FILTER_LENGTH = 512
DB_LIMIT = 120.0  # values are clipped to +-120 dB, the range of SI-SDR (mir_eval lets a perfect estimate
# reach hundreds of dB or inf, which would swamp the mean, e.g. the mixture of a 1-source mixture)


@cache
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _one_blas_thread():
    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas") if controller is not None else nullcontext()


def _correlations(refs: np.ndarray, ests: np.ndarray, flen: int):
    """G [n L, n L], D [n L, m] and the FFTs, for refs [n, T] and ests [m, T]."""
    n, length = refs.shape
    nfft = 1 << int(np.ceil(np.log2(length + flen - 1)))
    ref_f = np.fft.rfft(refs, nfft)
    est_f = np.fft.rfft(ests, nfft)
    # r[i, k, tau] = sum_t s_i(t) s_k(t + tau), tau in (-L, L) taken modulo nfft.
    r = np.fft.irfft(np.conj(ref_f)[:, None] * ref_f[None], nfft)
    lags = np.arange(flen)[:, None] - np.arange(flen)[None, :]  # a - b
    gram = r[:, :, lags % nfft]  # [n, n, L, L]: sum_t s_i(t - a) s_k(t - b) = r_ik(a - b)
    gram = gram.transpose(0, 2, 1, 3).reshape(n * flen, n * flen)
    cross = np.fft.irfft(np.conj(ref_f)[:, None] * est_f[None], nfft)[:, :, :flen]  # [n, m, L]
    d = cross.transpose(0, 2, 1).reshape(n * flen, -1)
    return gram, d, ref_f, nfft


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        factor = scipy.linalg.cho_factor(gram, check_finite=False)
        return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def _project(coef: np.ndarray, ref_f: np.ndarray, nfft: int, out_len: int) -> np.ndarray:
    """sum_i (c_i * s_i)(t) for coef [n, L, m] -> [m, out_len]."""
    coef_f = np.fft.rfft(coef, nfft, axis=1)  # [n, F, m]
    return np.fft.irfft(np.einsum("nfm,nf->mf", coef_f, ref_f), nfft)[:, :out_len]


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(10 * np.log10(num / den), -DB_LIMIT, DB_LIMIT)


def bss_eval_pairwise(refs: np.ndarray, ests: np.ndarray, filter_length: int = FILTER_LENGTH):
    """sdr, sir [m, n] for every (estimate i, reference j) and sar [m]; refs [n, T], ests [m, T].

    A silent estimate gives NaN (its projections are all zero; mir_eval refuses it); values are
    clipped to +-DB_LIMIT.
    """
    with _one_blas_thread():
        return _bss_eval_pairwise(refs, ests, filter_length)


def _bss_eval_pairwise(refs, ests, filter_length):
    refs = np.asarray(refs, dtype=np.float64)
    ests = np.asarray(ests, dtype=np.float64)
    n, length = refs.shape
    flen = filter_length
    out_len = length + flen - 1
    gram, d, ref_f, nfft = _correlations(refs, ests, flen)
    padded = np.pad(ests, ((0, 0), (0, flen - 1)))
    proj_all = _project(_solve(gram, d).reshape(n, flen, -1), ref_f, nfft, out_len)  # [m, T']
    energy_all = (proj_all ** 2).sum(-1)
    sar = _db(energy_all, ((padded - proj_all) ** 2).sum(-1))
    sdr = np.empty((ests.shape[0], n))
    sir = np.empty_like(sdr)
    for j in range(n):
        block = slice(j * flen, (j + 1) * flen)
        coef = _solve(gram[block, block], d[block])
        proj_j = _project(coef[None], ref_f[j:j + 1], nfft, out_len)
        target = (proj_j ** 2).sum(-1)
        sdr[:, j] = _db(target, ((padded - proj_j) ** 2).sum(-1))
        sir[:, j] = _db(target, ((proj_all - proj_j) ** 2).sum(-1))
    silent = ~np.any(ests != 0, axis=-1)
    sdr[silent], sir[silent], sar[silent] = np.nan, np.nan, np.nan
    return sdr, sir, sar


def sdr_aligned(refs: np.ndarray, ests: np.ndarray, filter_length: int = FILTER_LENGTH) -> np.ndarray:
    """SDR of ests[j] against refs[j] (projection on all refs): mir_eval with compute_permutation=False."""
    return np.diagonal(bss_eval_pairwise(refs, ests, filter_length)[0]).copy()


def bss_eval_sources(refs: np.ndarray, ests: np.ndarray, compute_permutation: bool = True,
                     filter_length: int = FILTER_LENGTH):
    """(sdr, sir, sar, perm) with mir_eval's semantics: estimate perm[j] is matched to reference j,
    choosing the permutation of highest mean SIR; entries are indexed by reference j."""
    sdr, sir, sar = bss_eval_pairwise(refs, ests, filter_length)
    n = refs.shape[0]
    idx = np.arange(n)
    if compute_permutation:
        perms = [np.array(p) for p in itertools.permutations(range(ests.shape[0]), n)]
        perm = max(perms, key=lambda p: np.mean(sir[p, idx]))
    else:
        perm = idx
    return sdr[perm, idx], sir[perm, idx], sar[perm], perm
