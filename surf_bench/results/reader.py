"""The one reader of results: every finished score under a root as one table (``collect``), the
metric-against-NFE curves (``collect_curves``), and the keys that name a cell (docs/architecture.md,
"Results"). What the files hold and how they are written: surf_bench.files.
"""

from __future__ import annotations

import json
from pathlib import Path

# --- the one reader of results ----------------------------------------------------------------
CELL_KEY = ["dataset", "method", "preset", "variant", "seed"]  # one cell; presets reuse variant names
# The oracle sets' reference estimates (metrics/oracle.py), scored like the baseline.
REFERENCE_COLUMNS = ("bayes_mean", "posterior_sample")
COLUMNS = [*CELL_KEY, "split", "metric", "mean", "ci_low", "ci_high", "baseline", *REFERENCE_COLUMNS,
           "higher_is_better", "headline", "nfe", "supervised", "trains", "kind", "modality", "protocol",
           "n_items", "config_hash", "train_code", "train_mixtures", "train_seconds", "wall_seconds", "remix_error_db",
           "path"]


def code_label(code: dict | None) -> str | None:
    """A code version as one short label: the commit's first 10 hex, '+dirty' with uncommitted changes."""
    if not isinstance(code, dict) or not code.get("git_commit"):
        return None
    return str(code["git_commit"])[:10] + ("+dirty" if code.get("git_dirty") else "")


def score_records(root: Path):
    """(path, record) of every readable score file (metrics.json, metrics.<split>.json) under root."""
    for path in sorted(Path(root).rglob("metrics*.json")):
        if path.name != "metrics.json" and not (path.name.startswith("metrics.") and path.name.count(".") == 2):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and "metrics" in record and "method" in record:
            yield path, record


def collect(root: Path = Path("results")):
    """Every finished score under ``root`` as a pandas DataFrame: one row per cell, split and metric
    (mean, 95% interval, the do-nothing baseline, on the oracle sets the Bayes posterior mean and
    the exact posterior sample, the cell's identity and provenance, and for
    validation scores the unsupervised remix-consistency criterion of surf_bench.engine.criterion)."""
    import pandas as pd

    from ..metrics import catalog

    rows = []
    for path, record in score_records(root):
        prov = record.get("provenance") or {}
        train = record.get("train") or {}
        split = record.get("split") or ("test" if path.name == "metrics.json" else path.name.split(".")[1])
        for name, value in (record.get("metrics") or {}).items():
            if name.endswith("_ci95") or name not in catalog.BY_NAME:
                continue
            declared = catalog.metric(name)
            low, high = (record["metrics"].get(f"{name}_ci95") or [None, None])[:2]
            rows.append({
                "dataset": record["dataset"], "method": record["method"], "preset": record.get("preset"),
                "variant": record.get("variant", path.parent.parent.name), "seed": record.get("seed"),
                "split": split, "metric": name, "mean": value, "ci_low": low, "ci_high": high,
                "baseline": (record.get("baseline") or {}).get(name),
                **{ref: ((record.get("references") or {}).get(ref) or {}).get(name) for ref in REFERENCE_COLUMNS},
                "higher_is_better": declared.higher_is_better, "headline": declared.headline,
                "nfe": record.get("nfe"), "supervised": record.get("supervised"),
                "trains": record.get("trains", True), "kind": record.get("kind"),
                "modality": record.get("modality"), "protocol": record.get("protocol"),
                "n_items": record.get("n_items"), "config_hash": prov.get("config_hash"),
                "train_code": code_label(prov.get("train_code") or prov.get("code")),
                "train_mixtures": train.get("train_mixtures", prov.get("train_mixtures")),
                "train_seconds": prov.get("train_seconds"), "wall_seconds": prov.get("wall_seconds"),
                "remix_error_db": (record.get("unsupervised") or {}).get("remix_error_db"), "path": str(path),
            })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("mean", "ci_low", "ci_high", "baseline", *REFERENCE_COLUMNS, "remix_error_db"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def collect_curves(root: Path = Path("results")):
    """The metric-against-NFE curves of flow cells: one row per cell, split, NFE and metric."""
    import pandas as pd

    rows = []
    for _, record in score_records(root):
        split = record.get("split") or "test"
        for point in record.get("nfe_curve") or []:
            for name, value in point.items():
                if name != "nfe":
                    rows.append({"dataset": record["dataset"], "method": record["method"],
                                 "preset": record.get("preset"), "variant": record.get("variant"),
                                 "seed": record.get("seed"), "split": split, "nfe": point["nfe"],
                                 "metric": name, "value": value})
    return pd.DataFrame(rows, columns=[*CELL_KEY, "split", "nfe", "metric", "value"])


def curves_of_cells(curves, cells):
    """The rows of ``curves`` (``collect_curves``) that belong to ``cells`` (any frame with the
    ``CELL_KEY`` columns). The preset is part of the key: presets reuse variant names ('default')."""
    return curves.merge(cells[CELL_KEY].drop_duplicates(), on=CELL_KEY)
