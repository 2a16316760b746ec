"""nmf: a classical separator that learns nothing: NMF of each mixture's spectrogram, components
clustered into K sources (Smaragdis 2007, Virtanen 2007: NMF of magnitude spectrograms; Spiertz &
Gnann 2009: clustering NMF components into sources).

Algorithm, per mixture m (no training, no network; the same on every split):
  1. X = STFT(m) (Hann, 512 / 128 at 16 kHz);  V = |X|
  2. V ~ W H with R non-negative components: multiplicative updates of the KL divergence
     (Lee & Seung 2001), W's columns kept at unit sum, from a seeded random start
  3. the R spectral bases W[:, r] (log-compressed, unit norm) cut into K groups by spectral
     clustering (Ng, Jordan & Weiss 2001) of their cosine similarities: the K eigenvectors of the
     normalised Laplacian with the smallest eigenvalues, rows normalised, k-means (scipy, seeded)
  4. Wiener-like masks M_k = (W_k H_k) / (W H), which sum to one; s_k = iSTFT(M_k X)
  5. mixture consistency: s_k += (m - sum_j s_j) / K
"""

import numpy as np
import torch
from scipy.cluster.vq import kmeans2

from surf_bench.maths.mixit import mixture_consistency
from surf_bench.method import Method

N_FFT, HOP, COMPONENTS, ITERATIONS, EPS = 512, 128, 24, 100, 1e-10


def nmf_kl(v: torch.Tensor, rank: int, iterations: int, generator: torch.Generator):
    """W [B, F, R], H [B, R, T] with V ~ W H (KL divergence, multiplicative updates)."""
    batch, bins, frames = v.shape
    w = torch.rand(batch, bins, rank, generator=generator, dtype=v.dtype) + 0.1
    h = torch.rand(batch, rank, frames, generator=generator, dtype=v.dtype) + 0.1
    for _ in range(iterations):
        h = h * (w.transpose(1, 2) @ (v / (w @ h + EPS))) / (w.sum(1).unsqueeze(-1) + EPS)
        w = w * ((v / (w @ h + EPS)) @ h.transpose(1, 2)) / (h.sum(2).unsqueeze(1) + EPS)
        scale = w.sum(1, keepdim=True) + EPS
        w, h = w / scale, h * scale.transpose(1, 2)
    return w, h


def cluster_components(w: np.ndarray, n_groups: int) -> np.ndarray:
    """Group label in 0..K-1 of each of the R bases [F, R]; every group gets at least one."""
    features = np.log1p(w.T / (w.T.mean(1, keepdims=True) + EPS))
    features /= np.linalg.norm(features, axis=1, keepdims=True) + EPS
    affinity = np.clip(features @ features.T, 0.0, None)
    degree = 1.0 / np.sqrt(affinity.sum(1) + EPS)
    laplacian = np.eye(len(affinity)) - degree[:, None] * affinity * degree[None, :]
    _, vectors = np.linalg.eigh(laplacian)
    embedding = vectors[:, :n_groups]
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True) + EPS
    _, labels = kmeans2(embedding, n_groups, minit="++", seed=0)
    for group in range(n_groups):  # fewer clusters than K: split off the largest group's last members
        if not (labels == group).any():
            largest = np.bincount(labels, minlength=n_groups).argmax()
            labels[np.flatnonzero(labels == largest)[-1]] = group
    return labels


class NMF(Method):
    name = "nmf"
    description = "classical: NMF of each mixture's spectrogram, components clustered into sources (no training)"
    kind = "regression"
    trains = False
    modalities = ("audio",)

    def separate(self, mix: torch.Tensor, nfe: int | None = None, generator=None) -> torch.Tensor:
        window = torch.hann_window(N_FFT, dtype=torch.float64, device=mix.device)
        spec = torch.stft(mix.double(), N_FFT, HOP, window=window, return_complex=True)  # [B, F, T]
        w, h = nmf_kl(spec.abs().cpu(), COMPONENTS, ITERATIONS, generator or torch.Generator().manual_seed(0))
        model = w @ h + EPS
        estimates = []
        for b in range(len(mix)):
            labels = torch.from_numpy(cluster_components(w[b].numpy(), self.n_slots))
            parts = [(w[b][:, labels == k] @ h[b][labels == k]) / model[b] for k in range(self.n_slots)]
            masks = torch.stack(parts).to(spec.device)
            estimates.append(torch.istft(masks * spec[b], N_FFT, HOP, window=window, length=mix.shape[-1]))
        return mixture_consistency(torch.stack(estimates).to(mix.dtype), mix)


METHOD = NMF
