"""Paired difference of two cells on the same items: what an A/B, a budget point or a lever is read
with (docs/architecture.md, "Protocol": run-to-run spread and ties).

    d_i = m_a(i) - m_b(i) over the items (and seeds) both cells scored; report mean(d), its paired
    percentile-bootstrap 95% interval (items resampled with replacement) and the share of items
    where a is better (d_i > 0, or < 0 for a lower-is-better metric).

A side is one cell folder (``.../<variant>/seed0``) or a variant folder (``.../<variant>``), whose
seeds are paired with the other side's seeds of the same number. ``table.paired`` reads its
comparisons through ``paired_items`` too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.cells import check_split_name, items_name, metrics_name
from ..errors import UsageError
from ..files import load_json
from ..metrics import catalog
from ..metrics.aggregate import bootstrap_ci


def score_files(split: str) -> tuple[str, str]:
    """(metrics file, per-item file) of a split (cells.metrics_name, cells.items_name)."""
    check_split_name(split)
    return metrics_name(split), items_name(split)


def merged_items(pairs: list[tuple[Path, Path]], metric: str) -> list[pd.DataFrame]:
    """Per (items file a, items file b) pair: the items both scored, matched by item id, with
    columns ``<metric>_a`` and ``<metric>_b``."""
    return [_read_items(a, metric).merge(_read_items(b, metric), on="item", suffixes=("_a", "_b"))
            for a, b in pairs]


def paired_items(pairs: list[tuple[Path, Path]], metric: str) -> np.ndarray:
    """The per-item differences a - b of ``metric`` over every pair (``merged_items``)."""
    merged = merged_items(pairs, metric)
    return np.concatenate([_differences(m, metric) for m in merged]) if merged else np.array([])


def _differences(merged: pd.DataFrame, metric: str) -> np.ndarray:
    return (merged[f"{metric}_a"] - merged[f"{metric}_b"]).to_numpy(float)


def _read_items(path: Path, metric: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UsageError(f"cannot read {path} ({type(exc).__name__}); score that cell again with "
                         "`surf-bench run ... --rescore`") from None
    if "item" not in frame or metric not in frame:
        have = ", ".join(c for c in frame.columns if c != "item" and not c.endswith("_mixture"))
        raise UsageError(f"{path} has no column '{metric}' (it has: {have}); pass one of them as --metric")
    return frame[["item", metric]]


def cell_seeds(side: Path, split: str) -> dict[int, Path]:
    """{seed: cell folder} of one side: a cell folder with the split's score, or the seed folders
    under a variant folder that have it."""
    metrics_file, _ = score_files(split)
    side = Path(side)
    if (side / metrics_file).is_file():
        folders = [side]
    else:
        folders = sorted(p for p in side.glob("seed*") if (p / metrics_file).is_file())
    if not folders:
        raise UsageError(f"{side} holds no {split} score ({metrics_file}); name a cell folder "
                         f"(.../<variant>/seed0) or a variant folder, and score it with "
                         f"`surf-bench run ... --split {split}`")
    return {int(load_json(p / metrics_file).get("seed", -1)): p for p in folders}


@dataclass
class Comparison:
    metric: str
    a_mean: float  # mean over the paired items
    b_mean: float
    mean_diff: float
    low: float
    high: float
    items: int
    seeds: list[int]
    a_better_share: float

    def line(self, a: str = "a", b: str = "b") -> str:
        return (f"{self.metric}: {a} {self.a_mean:.3f} - {b} {self.b_mean:.3f} = {self.mean_diff:+.3f} "
                f"[{self.low:+.3f}, {self.high:+.3f}] (paired 95%, {self.items} items, seeds "
                f"{','.join(map(str, self.seeds))}); a better on {100 * self.a_better_share:.0f}% of items")

    def to_dict(self) -> dict:
        return asdict(self)


def compare(a: Path, b: Path, split: str = "valid", metric: str | None = None, n_boot: int = 2000,
            seed: int = 0) -> Comparison:
    """The paired comparison of side ``a`` against side ``b`` (module docstring)."""
    seeds_a, seeds_b = cell_seeds(a, split), cell_seeds(b, split)
    common = sorted(set(seeds_a) & set(seeds_b))
    if not common:
        raise UsageError(f"{a} (seeds {sorted(seeds_a)}) and {b} (seeds {sorted(seeds_b)}) share no seed; "
                         "compare cells of the same seed")
    metrics_file, items_file = score_files(split)
    first_a, first_b = load_json(seeds_a[common[0]] / metrics_file), load_json(seeds_b[common[0]] / metrics_file)
    if first_a.get("dataset") != first_b.get("dataset"):
        raise UsageError(f"{a} is on '{first_a.get('dataset')}' and {b} on '{first_b.get('dataset')}': paired "
                         "items need the same dataset")
    metric = metric or catalog.headline(first_a.get("modality", "image"))
    pairs = [(seeds_a[s] / items_file, seeds_b[s] / items_file) for s in common]
    merged = merged_items(pairs, metric)
    if sum(len(m) for m in merged) == 0:
        raise UsageError(f"{a} and {b} scored no common item; score both on the same split of the same data")
    d = np.concatenate([_differences(m, metric) for m in merged])
    finite = np.isfinite(d)
    low, high = bootstrap_ci(d, n_boot, seed)
    higher = catalog.metric(metric).higher_is_better if metric in {m.name for m in catalog.METRICS} else True
    better = (d[finite] > 0) if higher else (d[finite] < 0)
    values_a = np.concatenate([m[f"{metric}_a"].to_numpy(float) for m in merged])
    values_b = np.concatenate([m[f"{metric}_b"].to_numpy(float) for m in merged])
    return Comparison(metric, float(np.nanmean(values_a)), float(np.nanmean(values_b)), float(np.nanmean(d)),
                      low, high, int(finite.sum()), common, float(better.mean()) if finite.any() else float("nan"))
