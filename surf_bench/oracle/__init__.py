"""Tasks with a known answer: a Gaussian-mixture source prior and the exact posterior of its sources
given their sum (docs/architecture.md, "Oracle datasets")."""
