"""One evaluator for every method: per-item rows, the do-nothing baseline, aggregates with a 95%
bootstrap interval, and for flow methods a curve of the metrics against the NFE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .data.base import SourceSplit, mixture_sum
from .metrics import score


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of the mean."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(1)
    low, high = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)


def aggregate(frame: pd.DataFrame, metrics: list[str], n_boot: int) -> dict:
    out = {}
    for name in metrics:
        values = frame[name].to_numpy(dtype=float)
        low, high = bootstrap_ci(values, n_boot)
        out[name] = float(np.nanmean(values)) if len(values) else float("nan")
        out[f"{name}_ci95"] = [low, high]
    return out


def evaluate(method, split: SourceSplit, cfg, device: str) -> dict:
    """Score ``method`` on the first ``eval.n_items`` items of ``split`` (all when 0)."""
    spec = split.spec
    count = len(split) if cfg.eval.n_items in (0, None) else min(cfg.eval.n_items, len(split))
    ids = split.item_ids()
    nfes = list(dict.fromkeys([*cfg.flow.nfe_curve, cfg.flow.nfe])) if method.kind == "flow" else [None]
    rows = {nfe: [] for nfe in nfes}
    baseline_rows = []
    for start in range(0, count, cfg.eval.batch_size):
        index = torch.arange(start, min(count, start + cfg.eval.batch_size))
        mix = mixture_sum(split.mixtures(index), spec).to(device)
        refs = split.sources_batch(index).to(device)
        s_bar = (mix / spec.n_slots).unsqueeze(1).expand_as(refs)
        base = score(spec.modality, s_bar, refs, mix)
        baseline_rows += [{"item": ids[int(i)], **{k: float(v[j]) for k, v in base.items()}}
                          for j, i in enumerate(index)]
        for nfe in nfes:
            # The same evaluation noise for every method, NFE and batch size: seeded per item block.
            generator = torch.Generator().manual_seed(cfg.eval.seed + start)
            est = method.separate(mix, nfe=nfe, generator=generator)
            got = score(spec.modality, est, refs, mix)
            rows[nfe] += [{"item": ids[int(i)], **{k: float(v[j]) for k, v in got.items()}}
                          for j, i in enumerate(index)]
    metric_names = [k for k in baseline_rows[0] if k != "item"]
    headline = cfg.flow.nfe if method.kind == "flow" else None
    frame = pd.DataFrame(rows[headline])
    base_frame = pd.DataFrame(baseline_rows)
    items = frame.merge(base_frame, on="item", suffixes=("", "_mixture"))
    result = {
        "metrics": aggregate(frame, metric_names, cfg.eval.bootstrap),
        "baseline": aggregate(base_frame, metric_names, cfg.eval.bootstrap),
        "n_items": count,
        "nfe": headline,
        "items": items,
    }
    if method.kind == "flow":
        result["nfe_curve"] = [{"nfe": n, **{m: float(pd.DataFrame(rows[n])[m].mean()) for m in metric_names}}
                               for n in nfes]
    return result
