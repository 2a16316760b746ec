"""Budget study: the validation headline metric against training steps, per method, as a table and
a figure. Where do flows overtake regression, if they do?

    python benchmarks/budget_study.py --dataset mnist2-mini --steps 1500,3000,6000,12000 \\
        --methods pit,floss,remixit,self_remixing,surf_rm,surf_sr --parallel 2 --out results/budget
    python benchmarks/budget_study.py ... --summarise        # only read the finished cells
    python benchmarks/budget_study.py ... --summarise --out benchmarks/results/cells --figures benchmarks/results

Every point is its own cell (variant ``steps<N>``, ``train.steps=N``, so its warm-up and cosine
schedule span its own budget; at the preset's own budget the cell of the validation A/B runs in
the same ``--out`` that has exactly the preset's settings is reused, whatever its name), scored on
the validation split at one thread per process, run by ``surf-bench launch`` (submitit's local
executor, ``--parallel`` cells at a time). The remixers of every budget start from the one MixIT
cell of the preset (a MixIT cell inherits only network, data and noise-end settings): the study
varies the remixer's own budget. Flow methods are read at the preset's NFE, at NFE 1 and at their
best NFE of the curve (the NFE that is best on validation, as a user would pick it). Writes
``<out>/budget_<dataset>.csv`` and ``.png``. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml


def own_budget_variant(out: Path, dataset: str, method: str, preset: str, seed: int, wanted: dict) -> str:
    """The variant that holds the preset's own budget: an existing finished validation cell in ``out``
    whose recorded config is ``wanted`` (the preset's, ignoring runtime keys; the A/B cells of the
    validation runs, whatever they were named), else ``default``."""
    import json

    from surf_bench.config import config_differences

    folders = sorted((out / dataset / method / preset).glob(f"*/seed{seed}/metrics.valid.json"),
                     key=lambda p: p.parent.parent.name != "default")
    for score in folders:
        recorded = json.loads(score.read_text()).get("provenance", {}).get("config")
        if recorded and not config_differences(recorded, wanted):
            return score.parent.parent.name
    if (out / dataset / method / preset / "default").exists():
        return f"steps{wanted['train']['steps']}"  # a 'default' cell with other settings: not this one
    return "default"


def grid(dataset: str, methods: list[str], steps: list[int], seeds: list[int], preset: str, out: Path,
         extra: dict) -> dict:
    """The study as a params file: one variant per method and budget, ``steps<N>`` with
    ``train.steps=N``; the preset's own number of steps reuses the cell that already has exactly the
    preset's settings (``own_budget_variant``)."""
    from surf_bench.engine.runner import CellRequest, resolve_cell

    settings = {"train.threads": 1, **extra}

    def variants(method: str) -> dict:
        cfg = resolve_cell(CellRequest(method, dataset, preset, seeds[0], overrides=dict(settings))).cfg
        own = cfg.train.steps
        rows = {}
        for n in steps:
            if n == own:
                rows[own_budget_variant(out, dataset, method, preset, seeds[0], cfg.to_dict())] = {}
            else:
                rows[f"steps{n}"] = {"train.steps": n}
        return rows

    return {"preset": preset, "datasets": [dataset], "methods": methods, "seeds": seeds, "split": "valid",
            "out": str(out), "set": settings, "variants": {m: variants(m) for m in methods}}


def _steps(frame: pd.DataFrame) -> pd.Series:
    """Each cell's training steps, from its score's recorded config."""
    import json

    return frame["path"].map(lambda p: json.loads(Path(p).read_text())["provenance"]["config"]["train"]["steps"])


def summarise(out: Path, dataset: str, variants: dict[str, dict], preset: str) -> pd.DataFrame:
    """One row per method and budget: the validation headline (mean over seeds), and for flows the
    value at their best NFE and at NFE 1. ``variants``: the grid's variants per method."""
    from surf_bench.results.reader import collect, collect_curves, curves_of_cells

    frame = collect(out)
    study = pd.Series([v in variants.get(m, {}) for m, v in zip(frame["method"], frame["variant"], strict=True)],
                      index=frame.index, dtype=bool)
    frame = frame[(frame["split"] == "valid") & frame["headline"] & (frame["dataset"] == dataset) & study
                  & (frame["preset"] == preset)]
    if frame.empty:
        return frame
    frame = frame.assign(steps=_steps(frame))
    cell_steps = frame.set_index(["method", "variant", "seed"])["steps"]
    rows = frame.groupby(["method", "steps"]).agg(metric=("metric", "first"), value=("mean", "mean"),
                                                  seeds=("seed", "count"), mixture=("baseline", "mean"),
                                                  train_s=("train_seconds", "mean")).reset_index()
    curves = collect_curves(out)
    if not curves.empty:
        curves = curves[(curves["split"] == "valid") & curves["metric"].isin(rows["metric"])]
        curves = curves_of_cells(curves, frame)  # the study's cells of this preset only
    if not curves.empty:
        keys = pd.MultiIndex.from_frame(curves[["method", "variant", "seed"]])
        curves = curves.assign(steps=cell_steps.reindex(keys).to_numpy())
        mean = curves.groupby(["method", "steps", "nfe"])["value"].mean().reset_index()
        best = mean.loc[mean.groupby(["method", "steps"])["value"].idxmax()]
        one = mean[mean["nfe"] == 1]
        rows = rows.merge(best.rename(columns={"value": "best_nfe_value", "nfe": "best_nfe"}), how="left",
                          on=["method", "steps"])
        rows = rows.merge(one[["method", "steps", "value"]].rename(columns={"value": "nfe1_value"}), how="left",
                          on=["method", "steps"])
    return rows.sort_values(["method", "steps"])


def crossings(rows: pd.DataFrame, pairs=(("floss", "pit"), ("surf_rm", "remixit"), ("surf_rm", "self_remixing"),
                                         ("surf_sr", "self_remixing"))) -> list[str]:
    """For each (flow, regression) pair: the budgets where the flow is >= the regression, at the
    flow's headline NFE (the fair comparison), and at its best NFE of the curve (optimistic: that
    NFE is picked on the same validation items)."""
    columns = [("value", "headline NFE")] + ([("best_nfe_value", "best NFE, optimistic")]
                                             if "best_nfe_value" in rows else [])
    lines = []
    for flow, regression in pairs:
        b = rows[rows["method"] == regression].set_index("steps")["value"]
        for column, label in columns:
            a = rows[rows["method"] == flow].set_index("steps")[column].dropna()
            common = sorted(set(a.index) & set(b.index))
            if common:
                ahead = [n for n in common if a[n] >= b[n]]
                lines.append(f"{flow} ({label}) >= {regression} at steps {ahead or 'none'} of {common}")
    return lines


def figure(rows: pd.DataFrame, path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, part in rows.groupby("method"):
        line = ax.plot(part["steps"], part["value"], marker="o", label=method)[0]
        if "best_nfe_value" in part and part["best_nfe_value"].notna().any():
            ax.plot(part["steps"], part["best_nfe_value"], marker="^", ls="--", color=line.get_color(),
                    label=f"{method} (best NFE, optimistic)")
    if rows["mixture"].notna().any():
        ax.axhline(rows["mixture"].mean(), color="grey", lw=0.8, ls=":", label="mixture")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training steps")
    ax.set_ylabel(f"validation {rows['metric'].iloc[0]}")
    ax.set_title(f"{dataset}: budget study")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist2-mini")
    parser.add_argument("--methods", default="pit,floss,remixit,self_remixing,surf_rm,surf_sr")
    parser.add_argument("--steps", default="1500,3000,6000,12000")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="extra setting of every cell, key=value")
    parser.add_argument("--out", type=Path, default=Path("results/budget"))
    parser.add_argument("--summarise", action="store_true")
    parser.add_argument("--figures", type=Path, default=None,
                        help="folder for the CSV and PNG (default: --out); e.g. benchmarks/results with "
                             "--out benchmarks/results/cells to rebuild the committed curves from the archive")
    args = parser.parse_args()
    from surf_bench.config import parse_set_options

    methods = args.methods.split(",")
    steps = [int(n) for n in args.steps.split(",")]
    params = grid(args.dataset, methods, steps, [int(s) for s in args.seeds.split(",")], args.preset, args.out,
                  parse_set_options(args.set))
    if not args.summarise:  # the grid as a params file, launched; --summarise only reads (an archive too)
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"budget_{args.dataset}.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        subprocess.run([sys.executable, "-m", "surf_bench", "launch", "--params", str(path), "--executor", "local",
                        "--max-parallel", str(args.parallel)], check=False)
    rows = summarise(args.out, args.dataset, params["variants"], args.preset)
    if rows.empty:
        print("no finished cell yet")
        return
    figures = args.figures or args.out
    figures.mkdir(parents=True, exist_ok=True)
    rows.to_csv(figures / f"budget_{args.dataset}.csv", index=False)
    print(rows.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for line in crossings(rows):
        print(line)
    figure(rows, figures / f"budget_{args.dataset}.png", args.dataset)
    print(f"figure: {figures / f'budget_{args.dataset}.png'}")


if __name__ == "__main__":
    main()
