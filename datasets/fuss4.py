"""fuss4: FUSS, dry version (``ssdata``): 10 s, 16 kHz, 1 background + 0-3 foreground sources
padded to K = 4 slots (all-zero slots are inactive), mixture = sum of sources.

Splits: train / valid / test = FUSS train / validation / eval example lists (the official eval
list, 1000 mixtures, full 10 s). Train items are full 10 s unless ``train_seconds`` is set (then
a window per (seed, epoch, item)). On open, every eval file's header is checked (rate, length) and
the first eval mixture is checked to equal the sum of its sources. ``fetch`` downloads
``FUSS_ssdata.tar.gz`` from Zenodo record 3743844 (no checksum is pinned: the size is checked
against the server's Content-Length and the archive's integrity on unpacking). Layout and format:
see ``surf_bench/data/fuss.py``. Licence: FUSS is CC BY 4.0; its source clips are CC0
(freesound.org, FSD50K).
"""

from surf_bench.data.fuss import FUSSAdapter

DATASET = FUSSAdapter(
    "fuss4", reverb=False, description="FUSS dry (ssdata): 10 s, 1-4 sources in K=4 slots, official eval list"
)
