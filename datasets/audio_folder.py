"""audio-folder: your own audio, K = 2, with no code: `surf-bench run --method mixit --dataset
audio-folder --data-root MY_FOLDER` (layouts in surf_bench/data/folders.py and docs/plugins.md,
"Your own data"). Another K is one line in a plugin: ``DATASET = AudioFolder("my-audio", n_slots=3)``."""

from surf_bench.data.folders import AudioFolder

DATASET = AudioFolder("audio-folder", n_slots=2)
