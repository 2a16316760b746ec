"""The leaderboard over synthetic finished cells: means over seeds with their interval, the paper
column, bold best unsupervised by direction, LaTeX that escapes and compiles, paired differences."""

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surf_bench.results import table
from surf_bench.results.reader import collect

SUPERVISED = {"pit", "floss"}


def write_cell(root: Path, method: str, seed: int, psnr_items: np.ndarray, baseline: float = 14.9,
               dataset: str = "mnist2-mini", variant: str = "default") -> None:
    folder = root / dataset / method / "quick" / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    mean = float(psnr_items.mean())
    record = {"method": method, "dataset": dataset, "preset": "quick", "variant": variant, "seed": seed,
              "split": "test", "modality": "image", "supervised": method in SUPERVISED,
              "kind": "flow" if method in {"floss", "surf_rm", "surf_sr"} else "regression",
              "metrics": {"psnr": mean, "psnr_ci95": [mean - 0.1, mean + 0.1], "fid": None,
                          "fid_ci95": [None, None]},
              "baseline": {"psnr": baseline}, "n_items": len(psnr_items), "nfe": 5, "protocol": "pit",
              "train": {"train_mixtures": 2000}, "provenance": {"config_hash": "x", "train_seconds": 1.0}}
    (folder / "metrics.json").write_text(json.dumps(record))
    pd.DataFrame({"item": [f"i{j}" for j in range(len(psnr_items))], "psnr": psnr_items}).to_csv(
        folder / "items.csv", index=False)


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    base = {"pit": 20.0, "floss": 19.5, "mixit": 17.0, "remixit": 19.0, "self_remixing": 19.4, "surf_rm": 18.4,
            "surf_sr": 18.5}
    for method, level in base.items():
        for seed in (0, 1):
            write_cell(tmp_path, method, seed, level + 0.2 * seed + rng.normal(0, 0.5, 50))
    return tmp_path


def test_leaderboard_means_intervals_paper_and_bold(root):
    rows = table.leaderboard(collect(root), "main")
    psnr = rows[rows["metric"] == "psnr"].set_index("method")
    assert list(psnr.index) == ["pit", "floss", "mixit", "remixit", "self_remixing", "surf_rm", "surf_sr", "mixture"]
    frame = collect(root)
    for method in ("surf_rm", "pit"):
        seeds = frame[(frame["method"] == method) & (frame["metric"] == "psnr")]["mean"].to_numpy()
        assert psnr.loc[method, "mean"] == pytest.approx(seeds.mean())
        half = 12.706 * seeds.std(ddof=1) / math.sqrt(2)  # t(0.975, 1 dof) over 2 seed means
        assert psnr.loc[method, "high"] - psnr.loc[method, "mean"] == pytest.approx(half, rel=1e-3)
    assert psnr.loc["surf_rm", "paper"] == 37.26 and psnr.loc["floss", "paper"] == 37.44
    assert np.isnan(psnr.loc["pit", "paper"])  # the paper reports no pit on mnist2
    best = psnr[psnr["best"]].index.tolist()
    assert best == ["self_remixing"]  # best unsupervised, not the supervised pit
    assert psnr.loc["mixture", "mean"] == pytest.approx(14.9)
    markdown = table.to_markdown(rows, "main", "test")
    assert "**19." in markdown and "mnist2-mini PSNR ↑" in markdown and "2000 training mixtures" in markdown
    assert "preset quick" in markdown and "2 seed(s)" in markdown and "stands for the paper's mnist2" in markdown
    ablation = table.leaderboard(collect(root), "ablation")
    assert set(ablation["method"]) == {"mixit", "remixit", "surf_rm", "surf_sr", "floss", "mixture"}
    assert ablation.set_index("method").loc["mixit", "paper"] == 21.90


def test_lower_is_better_metrics_bold_the_minimum():
    frame = pd.DataFrame({"method": ["remixit", "surf_rm"] * 2, "dataset": "mnist2-mini",
                          "metric": ["fid", "fid", "psnr", "psnr"], "mean": [10.0, 5.0, 18.0, 19.0]})
    frame = frame.assign(split="test", variant="default", ci_low=np.nan, ci_high=np.nan, baseline=np.nan, seed=0,
                         supervised=False, modality="image", preset="quick", train_mixtures=1, nfe=None)
    out = table.leaderboard(frame, "main")
    assert out[(out["metric"] == "fid") & out["best"]]["method"].tolist() == ["surf_rm"]  # 5 < 10
    assert out[(out["metric"] == "psnr") & out["best"]]["method"].tolist() == ["surf_rm"]  # 19 > 18
    assert table.leaderboard(frame.iloc[:0], "main").empty


def test_paired_differences_on_the_same_items(root):
    rows = table.paired(root, collect(root))
    row = rows[(rows["a"] == "surf_rm") & (rows["b"] == "remixit")].iloc[0]
    a = [pd.read_csv(root / "mnist2-mini" / "surf_rm" / "quick" / "default" / f"seed{s}" / "items.csv")["psnr"]
         for s in (0, 1)]
    b = [pd.read_csv(root / "mnist2-mini" / "remixit" / "quick" / "default" / f"seed{s}" / "items.csv")["psnr"]
         for s in (0, 1)]
    expected = np.concatenate([x - y for x, y in zip(a, b)])
    assert row["mean_diff"] == pytest.approx(expected.mean()) and row["items"] == 100 and row["seeds"] == 2
    assert row["low"] < row["mean_diff"] < row["high"] and row["high"] < 0  # surf_rm is 0.6 dB below here
    assert row["a_better_share"] == pytest.approx(np.mean(expected > 0))
    flow = rows[(rows["a"] == "floss") & (rows["b"] == "pit")].iloc[0]  # supervised flow against regression
    assert flow["high"] < 0 and flow["seeds"] == 2  # floss is 0.5 dB below pit in this fixture


def test_latex_escapes_and_compiles(root, tmp_path):
    tex = table.render(root, "main", "latex")
    assert r"self\_remixing" in tex and r"\toprule" in tex and r"$\uparrow$" in tex
    assert table.escape_latex("a_b & 5% #1 $x$") == r"a\_b \& 5\% \#1 \$x\$"
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-recommended)")
    doc = tmp_path / "doc.tex"
    paired = table.render(root, "paired", "latex")
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + tex + paired +
                   "\\end{document}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_a_grid_selects_its_cells_one_variant_per_method(root):
    """--params: the table of exactly a grid's cells, each method at its own chosen variant."""
    from surf_bench.errors import UsageError
    from surf_bench.orchestration.plan import PlannedCell

    rng = np.random.default_rng(1)
    for seed in (0, 1):
        write_cell(root, "remixit", seed, 30.0 + rng.normal(0, 0.1, 50), variant="ema999")
    grid = [PlannedCell(i, "mnist2-mini", m, "quick", "ema999" if m == "remixit" else "default", s)
            for i, (m, s) in enumerate((m, s) for m in ("mixit", "remixit", "surf_rm") for s in (0, 1))]
    rows = table.leaderboard(table.select_cells(collect(root), grid), "main", variant=None)
    psnr = rows[rows["metric"] == "psnr"].set_index("method")
    assert list(psnr.index) == ["mixit", "remixit", "surf_rm", "mixture"]
    assert psnr.loc["remixit", "mean"] > 29  # the ema999 cells, not the default ones (19 dB)
    assert psnr.loc["remixit", "best"]
    paired = table.paired(root, table.select_cells(collect(root), grid), variant=None)
    assert set(zip(paired["a"], paired["b"])) == {("surf_rm", "remixit"), ("surf_rm", "mixit")}
    ab = grid + [PlannedCell(9, "mnist2-mini", "remixit", "quick", "default", 0)]
    with pytest.raises(UsageError, match="one variant per method.*remixit.*default, ema999"):
        table.select_cells(collect(root), ab)


def test_oracle_sets_get_the_bayes_and_exact_sample_rows_and_no_bold_spread(tmp_path):
    """On a dataset with an exact posterior the table prints the two reference rows under the
    mixture, for the headline and the oracle metrics; spread_ratio has no direction to bold."""
    for method, psnr, spread in (("pit", 20.0, 0.01), ("surf_sr", 19.0, 0.8), ("remixit", 19.5, 0.02)):
        write_cell(tmp_path, method, 0, np.full(20, psnr), baseline=17.0, dataset="gmm2")
        path = tmp_path / "gmm2" / method / "quick" / "default" / "seed0" / "metrics.json"
        record = json.loads(path.read_text())
        record["metrics"].update({"mmse_gap_db": 22.0 - psnr, "mmse_gap_db_ci95": [0, 9], "spread_ratio": spread,
                                  "spread_ratio_ci95": [0, 1], "posterior_sw": 0.02})
        record["baseline"].update({"mmse_gap_db": 5.0, "spread_ratio": 0.0, "posterior_sw": 0.05})
        record["references"] = {"bayes_mean": {"psnr": 22.0, "mmse_gap_db": 0.0, "spread_ratio": 0.0,
                                               "posterior_sw": 0.09},
                                "posterior_sample": {"psnr": 19.2, "mmse_gap_db": 2.8, "spread_ratio": 0.98,
                                                     "posterior_sw": 0.01}}
        path.write_text(json.dumps(record))
    rows = table.leaderboard(collect(tmp_path), "main")
    by = rows.set_index(["method", "metric"])
    assert list(rows[rows["metric"] == "psnr"]["method"]) == [
        "pit", "remixit", "surf_sr", "mixture", "Bayes posterior mean", "exact posterior sample"]
    assert by.loc[("Bayes posterior mean", "psnr"), "mean"] == 22.0
    assert by.loc[("exact posterior sample", "spread_ratio"), "mean"] == 0.98
    assert by.loc[("exact posterior sample", "psnr"), "group"] == "oracle"
    assert by.loc[("remixit", "mmse_gap_db"), "best"] and not rows[rows["metric"] == "spread_ratio"]["best"].any()
    markdown = table.to_markdown(rows, "main", "test")
    assert "| Bayes posterior mean | 22.00 |" in markdown and "*oracle*" in markdown
    assert "gmm2 spread ratio |" in markdown and "Oracle rows" in markdown
    # Datasets without an exact posterior keep the plain layout.
    assert "oracle" not in set(table.leaderboard(collect(tmp_path / "none"), "main").get("group", []))


def test_a_table_says_when_its_cells_were_trained_by_different_code(root):
    for method, commit in (("pit", "a" * 40), ("floss", "b" * 40)):
        path = root / "mnist2-mini" / method / "quick" / "default" / "seed0" / "metrics.json"
        record = json.loads(path.read_text())
        record["provenance"]["train_code"] = {"git_commit": commit, "git_dirty": method == "floss"}
        path.write_text(json.dumps(record))
    text = table.to_markdown(table.leaderboard(collect(root), "main"), "main", "test")
    assert "trained by 2 code versions (aaaaaaaaaa, bbbbbbbbbb+dirty)" in text
    assert "seed(s). Its cells were trained" in text and "provenance. Mean over seeds" in text  # one sentence each


def test_the_paper_column_stands_only_beside_sets_that_stand_for_a_papers_set(tmp_path):
    write_cell(tmp_path, "pit", 0, np.full(10, 20.0), dataset="gmm2")
    write_cell(tmp_path, "pit", 0, np.full(10, 19.0), dataset="mnist2-mini")
    header = table.to_markdown(table.leaderboard(collect(tmp_path), "main"), "main", "test").splitlines()[0]
    assert header.startswith("| method | gmm2 PSNR ↑ | mnist2-mini PSNR ↑ | paper |")


def test_methods_that_learn_nothing_are_their_own_group(root):
    write_cell(root, "nmf", 0, np.full(50, 16.0))
    path = root / "mnist2-mini" / "nmf" / "quick" / "default" / "seed0" / "metrics.json"
    record = json.loads(path.read_text())
    record["trains"] = False
    path.write_text(json.dumps(record))
    rows = table.leaderboard(collect(root), "main")
    psnr = rows[rows["metric"] == "psnr"]
    assert psnr.set_index("method").loc["nmf", "group"] == "classical"
    assert list(psnr["method"])[-2:] == ["nmf", "mixture"]
    assert "*classical*" in table.to_markdown(rows, "main", "test")


def test_the_caption_names_the_methods_with_fewer_seeds(root):
    """A mean over one seed beside means over two is said, not hidden under the table's "2 seed(s)"."""
    assert "fewer for" not in table.to_markdown(table.leaderboard(collect(root), "main"), "main", "test")
    shutil.rmtree(root / "mnist2-mini" / "surf_rm" / "quick" / "default" / "seed1")
    text = table.to_markdown(table.leaderboard(collect(root), "main"), "main", "test")
    assert "2 seed(s) (fewer for surf_rm: 1)" in text
