"""One evaluator for every method: per-item rows, the do-nothing baseline (the mixture share
m_sum / K in every slot), aggregates with a 95% bootstrap interval, set-level FID, and for flow
methods a curve of the metrics against the NFE.

Slow or optional metrics (sdr, pesq, lpips, fid) are computed on the first N test items only, at the
headline NFE. ``extra_metrics`` maps each to N (None or a negative number = all items, 0 = off) and
names exactly the extras to compute; when it is None, ``cfg.eval.<name>_items`` decides where the
config has that field, else ``DEFAULT_EXTRA_METRICS``. A metric whose package or weights are
missing is logged once (one line) and recorded as NaN with its reason under ``result["missing"]``.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.base import SourceSplit, mixture_sum
from ..data.splits import open_split
from ..metrics import CORE, EXTRA, catalog, concat, per_item, resolve_protocol, score
from ..metrics.aggregate import aggregate, aggregate_fuss, bootstrap_ci
from ..metrics.fid import REFERENCE, FidSets
from ..metrics.oracle import REFERENCES, OracleReferences, OracleTally, summarise
from ..metrics.perceptual import MetricUnavailable, load_inception, load_lpips
from .contract import check_estimates

__all__ = ["evaluate", "aggregate", "bootstrap_ci", "DEFAULT_EXTRA_METRICS", "resolve_extra_metrics"]

LOG = logging.getLogger(__name__)
DEFAULT_EXTRA_METRICS = {m.name: m.default_items for m in catalog.METRICS if m.items_key}  # None = all
_LOGGED: set[str] = set()
_NETWORKS: dict[tuple, object] = {}
SET_METRICS = tuple(m.name for m in catalog.METRICS if m.level == "set")  # fid, fd_cls
BAYES_SAMPLES = 128  # exact samples per mixture behind the Bayes estimate (Monte Carlo excess MSE ~ 1/128)
SECOND_DRAW = 10_000_019  # offset of the evaluation seed of a method's second estimate (spread_ratio)


def resolve_extra_metrics(modality: str, cfg, extra_metrics: dict | None, count: int) -> dict[str, int]:
    """Items per extra metric of ``modality`` (0 = off), capped at ``count``."""
    eval_cfg = getattr(cfg, "eval", None)
    limits = {}
    for name in EXTRA[modality]:
        if extra_metrics is not None:
            value = extra_metrics.get(name, 0)
        else:
            value = getattr(eval_cfg, catalog.metric(name).items_key, DEFAULT_EXTRA_METRICS[name])
        limits[name] = count if value is None or value < 0 else min(int(value), count)
    return {name: n for name, n in limits.items() if n > 0}


def _say_once(message: str, log) -> None:
    if message not in _LOGGED:
        _LOGGED.add(message)
        (log or LOG.warning)(message)


def _network(name: str, device: str, cfg):
    """The loaded feature network of ``name`` (cached per process); raises MetricUnavailable."""
    weights = getattr(getattr(cfg, "eval", None), f"{name}_weights", "") or None
    key = (name, device, weights)
    if key not in _NETWORKS:
        loader = load_inception if name == "fid" else load_lpips
        _NETWORKS[key] = loader(device, weights)
    return _NETWORKS[key]


def _evaluator(split, cfg, device: str, log):
    """The evaluator classifier of the split's dataset (metrics/classifier.py), cached per process."""
    from .. import registry
    from ..metrics.classifier import evaluator_for
    from ..metrics.lpips_alex import weights_dir

    if getattr(split, "labels", None) is None:
        raise MetricUnavailable(f"the dataset of {split.spec.name} has no class labels for an evaluator classifier")
    dataset = split.spec.name.split("/")[0]
    key = ("cls", dataset, str(weights_dir()))
    if key not in _NETWORKS:
        adapter = registry.get_dataset(dataset)
        root = Path(cfg.data.root) if cfg.data.root else adapter.default_root()
        train, valid = (open_split(adapter, dataset, name, root, 0) for name in ("train", "valid"))
        net, record = evaluator_for(dataset, train, valid, weights_dir(), log)
        _NETWORKS[key] = (net.to(device), record)
    return _NETWORKS[key]


def _load_optional(limits: dict, device: str, cfg, log, split=None) -> tuple[dict, dict]:
    """Networks of the requested optional metrics, and {name: reason} for those that cannot run."""
    models, missing = {}, {}
    for name in [n for n in ("lpips", "fid") if n in limits]:
        try:
            models[name] = _network(name, device, cfg)
        except MetricUnavailable as exc:
            missing[name] = str(exc)
    wanted = [n for n in ("acc_cls", "fd_cls") if n in limits]
    if wanted:
        try:
            models["cls"], models["cls_record"] = _evaluator(split, cfg, device, log)
        except MetricUnavailable as exc:
            missing.update({n: f"{n}: {exc}" for n in wanted})
    if "pesq" in limits:
        try:
            import pesq  # noqa: F401
        except ImportError:
            missing["pesq"] = "pesq: the pesq package is not installed (extra 'surf-bench[audio-metrics]')"
    for name, reason in missing.items():
        limits.pop(name)
        _say_once(f"metric {name} skipped (recorded as missing): {reason}", log)
    return models, missing


def _summary(frame: pd.DataFrame, modality: str, protocol: str, extra: list[str], n_boot: int, n_slots: int):
    if protocol == "fuss":
        return aggregate_fuss(frame, extra, n_boot, n_slots)
    return aggregate(frame, [*CORE[modality], *extra], n_boot), {}


def evaluate(method, split: SourceSplit, cfg, device: str, extra_metrics: dict | None = None,
             protocol: str = "auto", log=None) -> dict:
    """Score ``method`` on the first ``eval.n_items`` items of ``split`` (all when 0).

    protocol: "auto" (FUSS rules when some reference slot is all-zero, else plain PIT), "pit" or
    "fuss". Returns metrics / baseline aggregates, counts, missing metrics, notes on skipped pairs,
    the per-item rows (``items``) and, for flow methods, ``nfe_curve``.
    """
    spec = split.spec
    count = len(split) if cfg.eval.n_items in (0, None) else min(cfg.eval.n_items, len(split))
    ids = split.item_ids()[:count]
    nfes = list(dict.fromkeys([*cfg.flow.nfe_curve, cfg.flow.nfe])) if method.kind == "flow" else [None]
    headline = cfg.flow.nfe if method.kind == "flow" else None
    limits = resolve_extra_metrics(spec.modality, cfg, extra_metrics, count)
    requested = [n for n in EXTRA[spec.modality] if n in limits]
    models, missing = _load_optional(limits, device, cfg, log, split)
    # Set-level metrics: features of named image sets, then a Fréchet distance against the references.
    sets = {name: FidSets(features) for name, features in
            (("fid", models.get("fid")), ("fd_cls", getattr(models.get("cls"), "features", None)))
            if features is not None and name in limits}
    notes: Counter = Counter()
    raws = {nfe: [] for nfe in nfes}
    base_raws = []
    # Datasets with an exact posterior (the oracle sets): reference rows and oracle metrics.
    posterior = getattr(split, "exact_posterior", None)
    oracle = OracleReferences(posterior(), BAYES_SAMPLES, cfg.eval.seed) if posterior else None
    ref_raws = {name: [] for name in REFERENCES}
    tallies = {key: OracleTally() for key in [*nfes, "mixture", "exact", *REFERENCES]}
    # Items of different lengths (full-length audio) are scored one by one: no padded tails.
    batch_size = 1 if None in tuple(spec.item_shape) else cfg.eval.batch_size
    for start in range(0, count, batch_size):
        index = torch.arange(start, min(count, start + batch_size))
        mix = mixture_sum(split.mixtures(index), spec).to(device)
        refs = split.sources_batch(index).to(device)
        s_bar = (mix / spec.n_slots).unsqueeze(1).expand_as(refs)
        extras = {name: max(0, n - start) for name, n in limits.items() if name not in SET_METRICS}
        counts_in = {name: max(0, limits[name] - start) for name in sets}
        labels = split.source_labels(index) if "cls" in models else None
        base_raws.append(score(spec, s_bar, refs, mix, extras, models, notes, labels))
        if oracle is not None:
            batch = oracle.batch(mix, start)
            bayes, draws = batch["bayes"], batch["draws"]
            for name, estimate in (("bayes_mean", bayes), ("posterior_sample", draws[2])):
                ref_raws[name].append(score(spec, estimate, refs, mix))
            tallies["bayes_mean"].add(bayes, None, refs, bayes)
            tallies["posterior_sample"].add(draws[2], draws[3], refs, bayes)
            tallies["exact"].add(draws[0], draws[1], refs, bayes)
            tallies["mixture"].add(s_bar, None, refs, bayes)
        for name, image_sets in sets.items():
            if counts_in[name]:
                image_sets.add(REFERENCE, refs[:counts_in[name]])
                image_sets.add("mixture", s_bar[:counts_in[name]])
        for nfe in nfes:
            # The same evaluation noise for every method and NFE: seeded per item block.
            generator = torch.Generator().manual_seed(cfg.eval.seed + start)
            est = method.separate(mix, nfe=nfe, generator=generator)
            if start == 0:  # the contract, before any score is computed from the estimates
                check_estimates(method, est, mix, spec.n_slots, f"evaluation (NFE {nfe})" if nfe else "evaluation")
            if oracle is not None:
                again = torch.Generator().manual_seed(cfg.eval.seed + start + SECOND_DRAW)
                tallies[nfe].add(est, method.separate(mix, nfe=nfe, generator=again), refs, bayes)
            raws[nfe].append(score(spec, est, refs, mix, extras if nfe == headline else None, models, notes,
                                   labels))
            for name, image_sets in sets.items():
                if counts_in[name] and nfe == headline:
                    image_sets.add("method", est[:counts_in[name]])
    proto = resolve_protocol(spec, base_raws, protocol)
    per_item_extra = [n for n in requested if n not in SET_METRICS]

    def frame_of(batches) -> pd.DataFrame:
        return pd.DataFrame({"item": ids, **per_item(spec, concat(batches), proto)})

    frame, base_frame = frame_of(raws[headline]), frame_of(base_raws)
    metrics, counts = _summary(frame, spec.modality, proto, per_item_extra, cfg.eval.bootstrap, spec.n_slots)
    baseline, _ = _summary(base_frame, spec.modality, proto, per_item_extra, cfg.eval.bootstrap, spec.n_slots)
    references = {}
    if oracle is not None:
        anchor = np.concatenate(tallies["exact"].residual)

        def oracle_of(key, n_boot=cfg.eval.bootstrap):
            return summarise(tallies[key], tallies["bayes_mean"], tallies["exact"], anchor, n_boot)

        metrics.update(oracle_of(headline))
        baseline.update(oracle_of("mixture"))
        for target, key in ((frame, headline), (base_frame, "mixture")):
            for column, values in tallies[key].items().items():
                target[column] = values
        for name in REFERENCES:
            ref_frame = frame_of(ref_raws[name])
            references[name] = {**_summary(ref_frame, spec.modality, proto, [], cfg.eval.bootstrap, spec.n_slots)[0],
                                **oracle_of(name)}
            for column in ref_frame.columns.drop("item"):
                frame[f"{column}_{name}"] = ref_frame[column].to_numpy()
            for column, values in tallies[name].items().items():
                frame[f"{column}_{name}"] = values
    for name in per_item_extra:
        counts[f"{name}_items"] = int(np.isfinite(frame[name]).sum()) if name in frame else 0
    for metric_name in [n for n in requested if n in SET_METRICS]:
        image_sets = sets.get(metric_name)
        for target, name in ((metrics, "method"), (baseline, "mixture")):
            target[metric_name] = image_sets.fid(name) if image_sets else float("nan")
            target[f"{metric_name}_ci95"] = [float("nan"), float("nan")]
        counts[f"{metric_name}_images"] = image_sets.count("method") if image_sets else 0
        counts[f"{metric_name}_reference_images"] = image_sets.count(REFERENCE) if image_sets else 0
    result = {
        "metrics": metrics,
        "baseline": baseline,
        "n_items": count,
        "nfe": headline,
        "protocol": proto,
        "counts": counts,
        "missing": missing,
        "metric_notes": dict(notes),
        **({"evaluator": models["cls_record"]} if "cls_record" in models else {}),
        **({"references": references} if references else {}),
        "items": frame.merge(base_frame, on="item", suffixes=("", "_mixture")),
    }
    if method.kind == "flow":
        curve = []
        for n in nfes:
            means, _ = _summary(frame_of(raws[n]), spec.modality, proto, [], 0, spec.n_slots)
            if oracle is not None:
                means.update(oracle_of(n, 0))
            curve.append({"nfe": n, **{k: v for k, v in means.items() if not k.endswith("_ci95")}})
        result["nfe_curve"] = curve
    return result
