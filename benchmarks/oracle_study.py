"""The oracle study's summary (docs/results.md, "The oracle study"): for every method on an oracle set, the
share of the gap from the mixture to the Bayes optimum that it closes and its spread ratio, at each
preset, read from finished cells (a benchmark that prints figures; it trains nothing).

    python benchmarks/oracle_study.py --root benchmarks/results/cells --dataset gmm2 --split valid \\
        --presets quick,long --out benchmarks/results

closed = 1 - mmse_gap_db(method) / mmse_gap_db(mixture): 0 for doing nothing, 1 at the Bayes optimum;
one exact posterior sample closes 1 - gap(sample) / gap(mixture). Flows are read at their headline
NFE, at NFE 1 (their one-step, posterior-mean-like estimate) and at their largest NFE (where a
calibrated sampler meets the exact-sample row). Means over the seeds found. Writes
``oracle_<dataset>_<split>.md``, ``.csv`` and a figure ``.png`` (mmse_gap_db and spread_ratio
against NFE, with the regression methods and the reference rows as lines).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from surf_bench.results.reader import collect, collect_curves
from surf_bench.results.table import METHOD_ORDER

ORACLE = ["psnr", "mmse_gap_db", "spread_ratio", "posterior_sw"]


def summary(root: Path, dataset: str, split: str, presets: list[str]) -> pd.DataFrame:
    frame = collect(root)
    frame = frame[(frame["dataset"] == dataset) & (frame["split"] == split) & (frame["variant"] == "default")
                  & frame["preset"].isin(presets) & frame["metric"].isin(ORACLE)]
    curves = collect_curves(root)
    curves = curves[(curves["dataset"] == dataset) & (curves["split"] == split) & (curves["variant"] == "default")
                    & curves["preset"].isin(presets)]
    rows = []
    for preset in presets:
        sub = frame[frame["preset"] == preset]
        if sub.empty:
            continue
        mixture_gap = sub[sub["metric"] == "mmse_gap_db"]["baseline"].mean()
        references = {"mixture": "baseline", "Bayes posterior mean": "bayes_mean",
                      "exact posterior sample": "posterior_sample"}
        for label, column in references.items():
            values = sub.groupby("metric")[column].mean()
            rows.append({"preset": preset, "method": label, "read_at": "", "seeds": sub["seed"].nunique(),
                         **values.to_dict()})
        for method, cells in sub.groupby("method"):
            means = cells.groupby("metric")["mean"].mean().to_dict()
            read_at = "headline NFE" if cells["kind"].iloc[0] == "flow" else ""
            rows.append({"preset": preset, "method": method, "read_at": read_at, "seeds": cells["seed"].nunique(),
                         **means})
            flow = curves[(curves["method"] == method) & (curves["preset"] == preset)]
            if len(flow):
                for nfe in sorted({int(flow["nfe"].min()), int(flow["nfe"].max())}):
                    point = flow[flow["nfe"] == nfe].groupby("metric")["value"].mean().to_dict()
                    rows.append({"preset": preset, "method": method, "read_at": f"NFE {nfe}",
                                 "seeds": flow["seed"].nunique(), **{k: point.get(k) for k in ORACLE}})
        for row in rows:
            if row["preset"] == preset:
                row["closed"] = 1 - row["mmse_gap_db"] / mixture_gap if row.get("mmse_gap_db") is not None else np.nan
    out = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate([*METHOD_ORDER, "mixture", "Bayes posterior mean", "exact posterior sample"])}
    out["_p"] = out["preset"].map({p: i for i, p in enumerate(presets)})
    out["_o"] = out["method"].map(lambda m: order.get(m, 99))
    out["_r"] = out["read_at"].map(lambda r: 0 if r == "NFE 1" else 1 if r == "headline NFE" else 2)
    return out.sort_values(["_p", "_o", "_r"]).drop(columns=["_p", "_o", "_r"])


def markdown(table: pd.DataFrame, dataset: str, split: str) -> str:
    lines = [f"Oracle study on {dataset}, {split} split (means over seeds; closed = 1 - gap / gap of the mixture)", "",
             "| preset | method | read at | seeds | PSNR | MMSE gap (dB) | closed | spread ratio | posterior SW |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        def fmt(value, digits=2):
            return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"
        lines.append(f"| {r['preset']} | {r['method']} | {r['read_at']} | {r['seeds']} | {fmt(r.get('psnr'))} | "
                     f"{fmt(r.get('mmse_gap_db'))} | {fmt(round(100 * r['closed']) + 0.0, 0)}% | "
                     f"{fmt(r.get('spread_ratio'))} | {fmt(r.get('posterior_sw'), 3)} |")
    return "\n".join(lines) + "\n"


def figure(root: Path, dataset: str, split: str, presets: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = collect(root)
    curves = collect_curves(root)
    frame = frame[(frame["dataset"] == dataset) & (frame["split"] == split) & (frame["variant"] == "default")]
    curves = curves[(curves["dataset"] == dataset) & (curves["split"] == split) & (curves["variant"] == "default")]
    # One colour per method in every panel (flows as curves, regression methods as dash-dot lines).
    methods = sorted(set(frame["method"]), key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99)
    colour = {m: f"C{i}" for i, m in enumerate(methods)}
    references = (("baseline", "mixture", "grey", ":"), ("bayes_mean", "Bayes mean", "black", "--"),
                  ("posterior_sample", "exact sample", "black", ":"))
    fig, axes = plt.subplots(2, len(presets), figsize=(4.5 * len(presets), 6.5), squeeze=False)
    for col, preset in enumerate(presets):
        sub = frame[frame["preset"] == preset]
        flows = curves[curves["preset"] == preset]
        for row, metric in enumerate(("mmse_gap_db", "spread_ratio")):
            ax = axes[row, col]
            for method, points in flows[flows["metric"] == metric].groupby("method"):
                mean = points.groupby("nfe")["value"].mean()
                ax.plot(mean.index, mean.to_numpy(), marker="o", color=colour[method])
            rows = sub[sub["metric"] == metric]
            for method, cells in rows[rows["kind"] != "flow"].groupby("method"):
                ax.axhline(cells["mean"].mean(), lw=1, ls="-.", color=colour[method])
            for column, _, color, style in references:
                if len(rows) and rows[column].notna().any():
                    ax.axhline(rows[column].mean(), color=color, ls=style, lw=1.5)
            ax.set_xscale("log")
            ax.set_xlabel("NFE (flows; regression methods as lines)")
            ax.set_ylabel("MMSE gap (dB)" if metric == "mmse_gap_db" else "spread ratio")
            ax.set_title(f"{dataset} {preset} ({split})", fontsize=9)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour[m], marker="o" if m in set(curves["method"]) else None,
                      ls="-" if m in set(curves["method"]) else "-.", label=m) for m in methods]
    handles += [Line2D([], [], color=color, ls=style, label=label)
                for _, label, color, style in references]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=7)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("benchmarks/results/cells"))
    parser.add_argument("--dataset", default="gmm2")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--presets", default="quick,long")
    parser.add_argument("--out", type=Path, default=None, help="folder for the .md / .csv / .png (default: print)")
    args = parser.parse_args()
    presets = args.presets.split(",")
    table = summary(args.root, args.dataset, args.split, presets)
    text = markdown(table, args.dataset, args.split)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / f"oracle_{args.dataset}_{args.split}"
        stem.with_suffix(".md").write_text(text)
        table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4f")
        figure(args.root, args.dataset, args.split, presets, stem.with_suffix(".png"))


if __name__ == "__main__":
    main()
