"""gmm2 with rank 8 and residual scale 1.0: a candidate prior of the oracle set (README, "The oracle study")."""

from surf_bench.data.gmm_sources import GaussianMixtureImages

DATASET = GaussianMixtureImages("gmm2-r8", n_slots=2, rank=8, residual_scale=1.0)
