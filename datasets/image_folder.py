"""image-folder: your own images, K = 2, with no code: `surf-bench run --method mixit --dataset
image-folder --data-root MY_FOLDER` (``<split>/*.png``; docs/plugins.md, "Your own data")."""

from surf_bench.data.folders import ImageFolder

DATASET = ImageFolder("image-folder", n_slots=2)
