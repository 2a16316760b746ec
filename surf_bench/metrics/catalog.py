"""Every metric declared once: name, modality, direction, level, the extra it needs, its item
limit in the eval config, and whether it is the modality's headline. The evaluator, the tables
and the tuner read these declarations (docs/architecture.md, "Metrics").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    modality: str  # image | audio
    higher_is_better: bool
    level: str  # item (one per test item), set (one per set: FID), aggregate (FUSS pools), oracle (exact posterior)
    label: str  # how tables print it
    unit: str = ""
    core: bool = False  # computed on every item of every run
    extra: str | None = None  # the pip extra it needs, for optional metrics
    items_key: str | None = None  # eval.<key>: how many leading items get it (optional metrics)
    default_items: int | None = None  # that limit when the config has no such field (None = all)
    headline: bool = False  # the number a table or a tuner ranks by, one per modality
    ranked: bool = True  # False: descriptive, no direction to rank by (a table bolds no best value)


METRICS: tuple[Metric, ...] = (
    Metric("psnr", "image", True, "item", "PSNR", "dB", core=True, headline=True),
    Metric("lpips", "image", False, "item", "LPIPS", items_key="lpips_items"),  # weights: fetch lpips-weights
    Metric("fid", "image", False, "set", "FID", items_key="fid_items"),  # weights: fetch fid-weights
    # The dataset's own evaluator classifier (metrics/classifier.py): not FID, and labelled so.
    Metric("acc_cls", "image", True, "item", "acc (evaluator)", items_key="cls_items"),
    Metric("fd_cls", "image", False, "set", "FD (evaluator)", items_key="cls_items"),
    # Against the exact posterior, on datasets that have one (metrics/oracle.py): level "oracle".
    Metric("mmse_gap_db", "image", False, "oracle", "MMSE gap", "dB"),
    Metric("spread_ratio", "image", False, "oracle", "spread ratio", ranked=False),
    Metric("posterior_sw", "image", False, "oracle", "posterior SW"),
    Metric("si_sdr", "audio", True, "item", "SI-SDR", "dB", core=True),
    Metric("si_sdri", "audio", True, "item", "SI-SDRi", "dB", core=True, headline=True),
    Metric("sdr", "audio", True, "item", "SDR", "dB", items_key="sdr_items", default_items=50),
    Metric("pesq", "audio", True, "item", "PESQ", extra="audio-metrics", items_key="pesq_items",
           default_items=50),
    Metric("si_sdr_1src", "audio", True, "aggregate", "SI-SDR (1 src)", "dB"),
    Metric("si_sdri_2src", "audio", True, "aggregate", "SI-SDRi (2 src)", "dB"),
    Metric("si_sdri_3src", "audio", True, "aggregate", "SI-SDRi (3 src)", "dB"),
    Metric("si_sdri_4src", "audio", True, "aggregate", "SI-SDRi (4 src)", "dB"),
    Metric("si_sdri_msi", "audio", True, "aggregate", "MSi", "dB"),
    Metric("sep_under", "audio", False, "aggregate", "under-sep."),
    Metric("sep_equal", "audio", True, "aggregate", "equal-sep."),
    Metric("sep_over", "audio", False, "aggregate", "over-sep."),
)
BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> Metric:
    return BY_NAME[name]


def headline(modality: str) -> str:
    return next(m.name for m in METRICS if m.modality == modality and m.headline)


def core(modality: str) -> tuple[str, ...]:
    return tuple(m.name for m in METRICS if m.modality == modality and m.core)


def optional(modality: str) -> tuple[str, ...]:
    """Metrics computed on the first ``eval.<name>_items`` items only (slow or needing an extra)."""
    return tuple(m.name for m in METRICS if m.modality == modality and m.items_key)
