"""fuss4-reverb: FUSS, reverberant version (``ssdata_reverb``): each source convolved with its own
simulated room impulse response; otherwise as fuss4 (10 s, 16 kHz, K = 4 slots, mixture = sum of
the reverberant sources, official eval list). ``fetch`` downloads ``FUSS_ssdata_reverb.tar.gz``
from Zenodo record 3743844 (size checked against Content-Length; no pinned checksum). Licence:
CC BY 4.0 (FUSS); source clips CC0 (freesound.org).
"""

from surf_bench.data.fuss import FUSSAdapter

DATASET = FUSSAdapter(
    "fuss4-reverb",
    reverb=True,
    description="FUSS reverberant (ssdata_reverb): 10 s, 1-4 sources in K=4 slots, official eval",
)
