"""The leaderboard: the paper's tables as layouts over ``results.collect`` (docs/architecture.md, "Tables").

- ``main``: rows are methods (supervised, unsupervised, classical methods that learn nothing, then the
  do-nothing mixture and, on the oracle sets, the Bayes rows), columns
  are dataset x metric (the headline metric and every metric the paper reports for that dataset),
  each with the paper's value beside ours. A cell is the mean over seeds with a 95% interval: the
  item bootstrap of the single seed, or a t interval over seed means when there are several. The
  best unsupervised value per column is bold.
- ``ablation``: the paper's ablation rows (mixit, remixit, surf_rm, surf_sr, floss) on image data.
- ``paired``: the mean per-item difference of the comparisons that carry the paper's claims, on
  the same test items, with a paired bootstrap 95% interval.

Paper values come from ``paper_reference.csv`` (package data, the single source of those
numbers). Formats: csv (tidy rows), md, latex (booktabs).
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import catalog
from ..metrics.aggregate import bootstrap_ci
from .compare import paired_items, score_files

METHOD_ORDER = ["pit", "floss", "mixit", "remixit", "self_remixing", "surf_rm", "surf_sr"]
# Our dataset -> the paper's dataset it stands for (an offline set is labelled as such).
PAPER_DATASET = {"mnist2-mini": "mnist2", "mnist2": "mnist2", "cifar2": "cifar2", "speech2-mini": "librispeech2",
                 "libri2mix": "librispeech2", "librifuss2": "librispeech2", "fuss4-mini": "fuss4", "fuss4": "fuss4",
                 "fuss4-reverb": "fuss4"}
# The comparisons behind the paper's claims: each SURF against its regression twin, against MixIT
# and against the supervised flow; and the supervised flow against supervised regression (flows
# beat regression already with clean sources?).
PAIRED = [("surf_rm", "remixit"), ("surf_sr", "self_remixing"), ("surf_rm", "mixit"), ("surf_sr", "mixit"),
          ("surf_rm", "floss"), ("surf_sr", "floss"), ("floss", "pit")]
ABLATION_METHODS = ["mixit", "remixit", "surf_rm", "surf_sr", "floss"]
FORMATS = ("csv", "md", "latex")
# Metrics the paper does not report that the main table still shows when measured: LPIPS and the
# evaluator classifier's accuracy and feature distance (labelled as such, never as FID).
OWN_COLUMNS = {"image": ("lpips", "acc_cls", "fd_cls", "mmse_gap_db", "spread_ratio", "posterior_sw")}
# Reference rows of the oracle sets (results.REFERENCE_COLUMNS), printed under the mixture row.
REFERENCE_ROWS = {"bayes_mean": "Bayes posterior mean", "posterior_sample": "exact posterior sample"}
TABLES = ("main", "ablation", "paired")


def paper_reference() -> pd.DataFrame:
    with resources.files("surf_bench.results").joinpath("paper_reference.csv").open() as handle:
        return pd.read_csv(handle)


def _interval(means: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> tuple[float, float, float]:
    means = means[np.isfinite(means)]
    if len(means) == 0:
        return math.nan, math.nan, math.nan
    if len(means) == 1:
        return float(means[0]), float(lows[0]), float(highs[0])
    from scipy import stats

    half = stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / math.sqrt(len(means))
    return float(means.mean()), float(means.mean() - half), float(means.mean() + half)


def _columns(frame: pd.DataFrame, paper: pd.DataFrame, table: str) -> list[tuple[str, str]]:
    """(dataset, metric) columns: the headline and the paper's metrics of that dataset."""
    columns = []
    for dataset in sorted(frame["dataset"].unique()):
        modality = frame.loc[frame["dataset"] == dataset, "modality"].iloc[0]
        wanted = [catalog.headline(modality)]
        reported = paper[(paper["dataset"] == PAPER_DATASET.get(dataset, dataset)) & (paper["table"] == table)]
        wanted += [m for m in reported["metric"].unique() if m not in wanted]
        wanted += [m for m in OWN_COLUMNS.get(modality, ()) if m not in wanted]
        rows = frame[frame["dataset"] == dataset]
        present = set(rows.loc[rows["mean"].notna(), "metric"]) | set(reported["metric"])
        present &= set(rows["metric"])
        columns += [(dataset, m) for m in wanted if m in present]
    return columns


def select_cells(frame: pd.DataFrame, cells) -> pd.DataFrame:
    """The rows of a grid's cells (``plan.expand``): (dataset, method, preset, variant, seed) in the
    grid. A table needs one variant per method and dataset, so a grid with several (an A/B grid)
    is refused with the variants it names."""
    from ..errors import UsageError

    wanted = {(c.dataset, c.method, c.preset, c.variant, int(c.seed)) for c in cells}
    per_method: dict[tuple, set] = {}
    for dataset, method, _, variant, _ in wanted:
        per_method.setdefault((dataset, method), set()).add(variant)
    several = {k: v for k, v in per_method.items() if len(v) > 1}
    if several:
        (dataset, method), names = next(iter(sorted(several.items())))
        raise UsageError(f"a table needs one variant per method; the grid gives {method} on {dataset} "
                         f"{len(names)} ({', '.join(sorted(names))}): tabulate an A/B grid with "
                         "`benchmarks/quick_table.py`, or list one variant per method")
    keys = list(zip(frame["dataset"], frame["method"], frame["preset"], frame["variant"],
                    pd.to_numeric(frame["seed"], errors="coerce").fillna(-1).astype(int), strict=True))
    return frame[[key in wanted for key in keys]]


def leaderboard(frame: pd.DataFrame, table: str = "main", split: str = "test",
                variant: str | None = "default") -> pd.DataFrame:
    """Tidy rows of the main or ablation table: method, dataset, metric, mean, low, high, seeds, paper, ...
    ``variant=None`` takes every row of ``frame`` (already selected, e.g. by ``select_cells``)."""
    frame = frame[frame["split"] == split]
    if variant is not None:
        frame = frame[frame["variant"] == variant]
    empty = pd.DataFrame(columns=["group", "method", "dataset", "metric", "mean", "low", "high", "seeds", "paper",
                                  "higher_is_better", "best", "preset", "train_mixtures", "nfe", "column"])
    if frame.empty:
        return empty
    paper = paper_reference()
    if table == "ablation":
        frame = frame[(frame["modality"] == "image") & frame["method"].isin(ABLATION_METHODS)]
    rows = []
    for rank, (dataset, metric) in enumerate(_columns(frame, paper, table)):
        sub = frame[(frame["dataset"] == dataset) & (frame["metric"] == metric)]
        ref = paper[(paper["dataset"] == PAPER_DATASET.get(dataset, dataset)) & (paper["metric"] == metric)
                    & (paper["table"] == table)]
        for method, cells in sub.groupby("method"):
            mean, low, high = _interval(cells["mean"].to_numpy(float), cells["ci_low"].to_numpy(float),
                                        cells["ci_high"].to_numpy(float))
            value = ref.loc[ref["method"] == method, "value"]
            trains = cells["trains"].iloc[0] if "trains" in cells else True
            group = ("classical" if pd.notna(trains) and not bool(trains) else
                     "supervised" if bool(cells["supervised"].iloc[0]) else "unsupervised")
            rows.append({"group": group,
                         "method": method, "dataset": dataset, "metric": metric, "mean": mean, "low": low,
                         "high": high, "seeds": int(cells["seed"].nunique()),
                         "paper": float(value.iloc[0]) if len(value) else math.nan,
                         "higher_is_better": catalog.metric(metric).higher_is_better,
                         "preset": cells["preset"].iloc[0], "train_mixtures": cells["train_mixtures"].max(),
                         "nfe": cells["nfe"].iloc[0], "column": rank,
                         "train_code": ",".join(sorted(set(cells["train_code"].dropna()))) if "train_code" in cells
                         else ""})
        references = [("baseline", "mixture", "baseline")]
        references += [("oracle", label, column) for column, label in REFERENCE_ROWS.items()
                       if column in sub and sub[column].notna().any()]
        for group, label, column in references if len(sub) else []:
            base = sub.groupby("seed")[column].first().to_numpy(float)
            rows.append({"group": group, "method": label, "dataset": dataset, "metric": metric,
                         "mean": float(np.nanmean(base)) if np.isfinite(base).any() else math.nan,
                         "low": math.nan, "high": math.nan, "seeds": len(base), "paper": math.nan,
                         "higher_is_better": catalog.metric(metric).higher_is_better,
                         "preset": sub["preset"].iloc[0], "train_mixtures": math.nan, "nfe": None,
                         "column": rank})
    if not rows:
        return empty
    out = pd.DataFrame(rows)
    out["best"] = False
    for _, index in out[out["group"] == "unsupervised"].groupby(["dataset", "metric"]).groups.items():
        values = out.loc[index, "mean"]
        if values.notna().any() and catalog.metric(out.loc[index[0], "metric"]).ranked:
            better = values.idxmax() if out.loc[index[0], "higher_is_better"] else values.idxmin()
            out.loc[better, "best"] = True
    order = {m: i for i, m in enumerate([*METHOD_ORDER, "mixture", *REFERENCE_ROWS.values()])}
    group_order = {"supervised": 0, "unsupervised": 1, "classical": 2, "baseline": 3, "oracle": 4}
    out["_g"], out["_m"] = out["group"].map(group_order), out["method"].map(lambda m: order.get(m, 99))
    out = out.sort_values(["_g", "_m", "method", "column"]).drop(columns=["_g", "_m"])
    return out.reset_index(drop=True)


def _items_path(frame: pd.DataFrame, method: str, seed: int, items_file: str) -> Path:
    """The per-item file of ``method``'s cell of ``seed`` among ``frame``'s score records."""
    return Path(frame[(frame["method"] == method) & (frame["seed"] == seed)]["path"].iloc[0]).parent / items_file


def paired(root: Path, frame: pd.DataFrame, split: str = "test", variant: str | None = "default",
           n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean per-item difference (a - b) of the headline metric on the same items, with a paired
    bootstrap 95% interval over the (seed, item) pairs both cells scored."""
    frame = frame[(frame["split"] == split) & frame["headline"].astype(bool)]
    if variant is not None:
        frame = frame[frame["variant"] == variant]
    _, items_file = score_files(split)
    rows = []
    for dataset in sorted(frame["dataset"].unique()):
        sub = frame[frame["dataset"] == dataset]
        metric = sub["metric"].iloc[0]
        for a, b in PAIRED:
            seeds = sorted(set(sub.loc[sub["method"] == a, "seed"]) & set(sub.loc[sub["method"] == b, "seed"]))
            pairs = [(_items_path(sub, a, s, items_file), _items_path(sub, b, s, items_file)) for s in seeds]
            if not pairs:
                continue
            d = paired_items(pairs, metric)
            low, high = bootstrap_ci(d, n_boot, seed)
            rows.append({"dataset": dataset, "metric": metric, "a": a, "b": b, "mean_diff": float(np.nanmean(d)),
                         "low": low, "high": high, "items": int(np.isfinite(d).sum()), "seeds": len(pairs),
                         "a_better_share": float(np.mean(d > 0)) if catalog.metric(metric).higher_is_better
                         else float(np.mean(d < 0))})
    return pd.DataFrame(rows, columns=["dataset", "metric", "a", "b", "mean_diff", "low", "high", "items", "seeds",
                                       "a_better_share"])


# --- rendering --------------------------------------------------------------------------------
def _fmt(value: float, digits: int = 2, missing: str = "–") -> str:
    return missing if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _cell(row, latex: bool = False) -> str:
    if not np.isfinite(row["mean"]):
        return "--" if latex else "–"
    digits = 3 if abs(row["mean"]) < 1 else 2  # LPIPS, accuracies: three decimals
    text = _fmt(row["mean"], digits)
    if np.isfinite(row["low"]) and np.isfinite(row["high"]):
        text += (r" {\scriptsize[" if latex else " [") + f"{_fmt(row['low'], digits)}, {_fmt(row['high'], digits)}" + \
                ("]}" if latex else "]")
    if row["best"]:
        text = rf"\textbf{{{text}}}" if latex else f"**{text}**"
    return text


def escape_latex(text: str) -> str:
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
             "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(table.get(ch, ch) for ch in str(text))


def caption(rows: pd.DataFrame, table: str, split: str) -> str:
    if rows.empty:
        return f"No finished {split} scores."
    presets = ", ".join(sorted(set(rows["preset"].dropna())))
    parts = []
    for dataset, sub in rows[~rows["group"].isin(["baseline", "oracle"])].groupby("dataset"):
        mixtures = sub["train_mixtures"].dropna()
        paper = PAPER_DATASET.get(dataset, dataset)
        label = dataset if paper == dataset else f"{dataset} (stands for the paper's {paper})"
        most = int(sub["seeds"].max())
        fewer = sub[sub["seeds"] < most].groupby("method", sort=False)["seeds"].min()
        parts.append(f"{label}: {int(mixtures.max()) if len(mixtures) else '?'} training mixtures, "
                     f"{most} seed(s)" + (" (fewer for " + ", ".join(f"{m}: {int(n)}" for m, n in fewer.items())
                                           + ")" if len(fewer) else ""))
    codes = sorted({c for value in rows.get("train_code", pd.Series(dtype=str)).dropna() for c in str(value).split(",")
                    if c})
    mixed = (f". Its cells were trained by {len(codes)} code versions ({', '.join(codes)}): see each cell's "
             "provenance" if len(codes) > 1 else "")
    return (f"{table} table, preset {presets}, {split} split; " + "; ".join(parts) + mixed +
            ". Mean over seeds with a 95% interval (item bootstrap for one seed, t over seed means for more); "
            "flows at their headline NFE; bold: best unsupervised; 'paper': the SURF paper's value (beside the sets "
            "that stand for the paper's)." +
            (" Oracle rows: the Bayes-optimal PIT-aligned posterior mean and one exact posterior sample "
             "(exact posterior of the dataset's Gaussian-mixture prior)." if (rows["group"] == "oracle").any() else ""))


def _wide(rows: pd.DataFrame, latex: bool) -> tuple[list[str], list[list[str]]]:
    ordered = rows.sort_values("column")
    keys = list(dict.fromkeys(zip(ordered["dataset"], ordered["metric"], strict=True)))
    missing = "--" if latex else "–"
    header = ["method"]
    for dataset, metric in keys:
        declared = catalog.metric(metric)
        up, label = declared.higher_is_better, f"{dataset} {declared.label}"
        if latex:
            arrow = (r" $\uparrow$" if up else r" $\downarrow$") if declared.ranked else ""
            header.append(escape_latex(label) + arrow)
        else:
            header.append(label + ((" ↑" if up else " ↓") if declared.ranked else ""))
        if dataset in PAPER_DATASET:  # the paper's column only beside a set that stands for a paper's set
            header.append("paper")
    body, group = [], None
    for (g, method), sub in rows.groupby(["group", "method"], sort=False):
        if g != group:
            body.append([f"__group__{g}"])
            group = g
        line = [escape_latex(method) if latex else method]
        for dataset, metric in keys:
            hit = sub[(sub["dataset"] == dataset) & (sub["metric"] == metric)]
            line.append(_cell(hit.iloc[0], latex) if len(hit) else missing)
            if dataset in PAPER_DATASET:
                line.append(_fmt(hit["paper"].iloc[0], missing=missing) if len(hit) else missing)
        body.append(line)
    return header, body


def to_markdown(rows: pd.DataFrame, table: str, split: str) -> str:
    header, body = _wide(rows, latex=False)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for line in body:
        if line[0].startswith("__group__"):
            lines.append("| *" + line[0][9:] + "* |" + " |" * (len(header) - 1))
        else:
            lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines) + f"\n\n{caption(rows, table, split)}\n"


def to_latex(rows: pd.DataFrame, table: str, split: str) -> str:
    header, body = _wide(rows, latex=True)
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
           r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    first = True
    for line in body:
        if line[0].startswith("__group__"):
            if not first:
                out.append(r"\midrule")
            out.append(rf"\multicolumn{{{len(header)}}}{{l}}{{\emph{{{escape_latex(line[0][9:])}}}}} \\")
            first = False
        else:
            out.append(" & ".join(line) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{escape_latex(caption(rows, table, split))}}}",
            r"\end{table}"]
    return "\n".join(out) + "\n"


def paired_markdown(rows: pd.DataFrame, split: str) -> str:
    lines = ["| dataset | metric | a | b | mean(a - b) | 95% CI | items | seeds | a better on |", "|" + "---|" * 9]
    for _, r in rows.iterrows():
        lines.append(f"| {r['dataset']} | {r['metric']} | {r['a']} | {r['b']} | {_fmt(r['mean_diff'])} | "
                     f"[{_fmt(r['low'])}, {_fmt(r['high'])}] | {r['items']} | {r['seeds']} | "
                     f"{100 * r['a_better_share']:.0f}% |")
    return "\n".join(lines) + (f"\n\nPaired differences on the same {split} items (a minus b; paired bootstrap "
                               "over items; the last column: share of items where a is better).\n")


def paired_latex(rows: pd.DataFrame, split: str) -> str:
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{llllrrr}", r"\toprule",
           r"dataset & metric & a & b & mean($a-b$) & 95\% CI & items \\", r"\midrule"]
    for _, r in rows.iterrows():
        out.append(" & ".join(escape_latex(str(v)) for v in (r["dataset"], r["metric"], r["a"], r["b"])) +
                   f" & {_fmt(r['mean_diff'])} & [{_fmt(r['low'])}, {_fmt(r['high'])}] & {r['items']}" + r" \\")
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{Paired differences on the same {split} items (paired bootstrap 95\% interval).}}",
            r"\end{table}"]
    return "\n".join(out) + "\n"


def _html_cell(text: str) -> str:
    import html
    import re

    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def to_html(rows: pd.DataFrame, table: str, split: str) -> str:
    """The main or ablation table as an HTML <table> (the report's; bold: best unsupervised)."""
    import html

    header, body = _wide(rows, latex=False)
    out = [f'<table class="leaderboard" data-table="{table}">',
           "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for line in body:
        if line[0].startswith("__group__"):
            out.append(f'<tr class="group"><td colspan="{len(header)}"><i>{html.escape(line[0][9:])}</i></td></tr>')
        else:
            out.append("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in line) + "</tr>")
    out.append(f"</tbody></table><p class=\"caption\">{html.escape(caption(rows, table, split))}</p>")
    return "\n".join(out)


def paired_html(rows: pd.DataFrame, split: str) -> str:
    import html

    head = ["dataset", "metric", "a", "b", "mean(a - b)", "95% CI", "items", "seeds", "a better on"]
    out = ['<table class="paired"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for _, r in rows.iterrows():
        cells = [r["dataset"], r["metric"], r["a"], r["b"], _fmt(r["mean_diff"]),
                 f"[{_fmt(r['low'])}, {_fmt(r['high'])}]", r["items"], r["seeds"], f"{100 * r['a_better_share']:.0f}%"]
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append(f"</tbody></table><p class=\"caption\">Paired differences on the same {split} items (a minus b; "
               "paired bootstrap 95% interval over items).</p>")
    return "\n".join(out)


def render(root: Path, table: str = "main", fmt: str = "md", split: str = "test", variant: str | None = "default",
           cells=None) -> str:
    """One table in one format; ``cells`` (a grid's planned cells) selects the cells instead of ``variant``."""
    from .reader import collect

    frame = collect(root)
    if cells is not None:
        frame, variant = select_cells(frame, cells), None
    if table == "paired":
        rows = paired(root, frame, split, variant)
        if fmt == "csv":
            return rows.to_csv(index=False, float_format="%.4f")
        return paired_markdown(rows, split) if fmt == "md" else paired_latex(rows, split)
    rows = leaderboard(frame, table, split, variant)
    if fmt == "csv":
        return rows.to_csv(index=False, float_format="%.4f")
    return to_markdown(rows, table, split) if fmt == "md" else to_latex(rows, table, split)
