"""gmm2: 2-source mixtures whose sources come from a Gaussian-mixture prior of the bundled digits, so
the exact posterior and the Bayes-optimal estimate are known (docs/architecture.md, "Oracle datasets")."""

from surf_bench.data.gmm_sources import GaussianMixtureImages

DATASET = GaussianMixtureImages("gmm2", n_slots=2)
