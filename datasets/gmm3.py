"""gmm3: as gmm2 with 3 sources per mixture (docs/architecture.md, "Oracle datasets")."""

from surf_bench.data.gmm_sources import GaussianMixtureImages

DATASET = GaussianMixtureImages("gmm3", n_slots=3)
