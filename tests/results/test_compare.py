"""Paired comparison of two cells: the per-item differences by hand, seeds paired by number, the
bootstrap interval, lower-is-better metrics, and one-line errors for what cannot be paired."""

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from surf_bench import cli
from surf_bench.errors import UsageError
from surf_bench.results.compare import compare
from tests.engine.test_reliability import cli_main, one_line
from tests.results.test_table import write_cell


def write_valid_cell(root, method, seed, values, variant="default", dataset="mnist2-mini", items=None, extra=None):
    """A cell scored on valid: metrics.valid.json + items.valid.csv (``extra``: more item columns)."""
    folder = root / dataset / method / "quick" / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    record = {"method": method, "dataset": dataset, "variant": variant, "seed": seed, "split": "valid",
              "modality": "image", "metrics": {"psnr": float(np.mean(values))}}
    (folder / "metrics.valid.json").write_text(json.dumps(record))
    frame = pd.DataFrame({"item": items or [f"i{j}" for j in range(len(values))], "psnr": values, **(extra or {})})
    frame.to_csv(folder / "items.valid.csv", index=False)
    return folder


def test_one_seed_matches_the_differences_by_hand(tmp_path):
    rng = np.random.default_rng(0)
    b = rng.normal(19.0, 2.0, 200)
    a = b + rng.normal(0.3, 0.5, 200)
    cell_a = write_valid_cell(tmp_path, "floss", 0, a, variant="lever")
    cell_b = write_valid_cell(tmp_path, "floss", 0, b)
    result = compare(cell_a, cell_b, "valid")
    d = a - b
    assert result.metric == "psnr" and result.items == 200 and result.seeds == [0]
    assert result.mean_diff == pytest.approx(d.mean())
    assert result.a_mean == pytest.approx(a.mean()) and result.b_mean == pytest.approx(b.mean())
    assert result.a_better_share == pytest.approx(np.mean(d > 0))
    # the interval is that of the paired differences: about mean +- 1.96 sd / sqrt(n), much narrower
    # than the unpaired spread of either side
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    assert result.low < d.mean() < result.high
    assert result.high - result.low == pytest.approx(2 * half, rel=0.2)


def test_variant_folders_pair_seeds_of_the_same_number_only(tmp_path):
    for seed, shift in ((0, 1.0), (1, 3.0)):
        write_valid_cell(tmp_path, "pit", seed, np.full(10, 20.0 + shift), variant="long")
    for seed in (1, 2):
        write_valid_cell(tmp_path, "pit", seed, np.full(10, 20.0))
    base = tmp_path / "mnist2-mini" / "pit" / "quick"
    result = compare(base / "long", base / "default", "valid")
    assert result.seeds == [1] and result.items == 10 and result.mean_diff == pytest.approx(3.0)


def test_items_are_matched_by_id_not_by_row(tmp_path):
    a = write_valid_cell(tmp_path, "pit", 0, [1.0, 2.0, 3.0], variant="x", items=["u", "v", "w"])
    b = write_valid_cell(tmp_path, "pit", 0, [30.0, 10.0, 0.0], items=["w", "u", "z"])
    result = compare(a, b, "valid")  # u: 1 - 10, w: 3 - 30; v and z are scored on one side only
    assert result.items == 2 and result.mean_diff == pytest.approx(((1 - 10) + (3 - 30)) / 2)


def test_lower_is_better_metric_counts_smaller_values_as_better(tmp_path):
    a = write_valid_cell(tmp_path, "floss", 0, [20.0] * 4, variant="x", extra={"lpips": [0.1, 0.1, 0.3, 0.1]})
    b = write_valid_cell(tmp_path, "floss", 0, [20.0] * 4, extra={"lpips": [0.2, 0.2, 0.2, 0.2]})
    result = compare(a, b, "valid", metric="lpips")
    assert result.a_better_share == pytest.approx(0.75)


def test_test_split_reads_the_test_scores(tmp_path):
    write_cell(tmp_path, "pit", 0, np.full(5, 21.0))
    write_cell(tmp_path, "floss", 0, np.full(5, 20.0))
    base = tmp_path / "mnist2-mini"
    result = compare(base / "floss" / "quick" / "default", base / "pit" / "quick" / "default", "test")
    assert result.mean_diff == pytest.approx(-1.0) and result.a_better_share == 0.0
    with pytest.raises(UsageError, match="no valid score"):
        compare(base / "floss" / "quick" / "default", base / "pit" / "quick" / "default", "valid")


@pytest.mark.parametrize("case", ["no common seed", "other dataset", "unknown metric"])
def test_what_cannot_be_paired_is_a_usage_error(tmp_path, case):
    a = write_valid_cell(tmp_path, "pit", 0, [1.0, 2.0], variant="x")
    if case == "no common seed":
        b, match = write_valid_cell(tmp_path, "pit", 1, [1.0, 2.0]), "share no seed"
    elif case == "other dataset":
        b, match = write_valid_cell(tmp_path, "pit", 0, [1.0, 2.0], dataset="speech2-mini"), "same dataset"
    else:
        b, match = write_valid_cell(tmp_path, "pit", 0, [1.0, 2.0]), "no column 'sisdr'"
    with pytest.raises(UsageError, match=match):
        compare(a, b, "valid", metric="sisdr" if case == "unknown metric" else None)


def test_cli_prints_json_and_fails_with_one_line(tmp_path):
    a = write_valid_cell(tmp_path, "pit", 0, [21.0, 22.0], variant="x")
    b = write_valid_cell(tmp_path, "pit", 0, [20.0, 20.0])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        with contextlib.suppress(SystemExit):
            cli.main(["compare", str(a), str(b), "--format", "json"])
    assert json.loads(out.getvalue())["mean_diff"] == pytest.approx(1.5)
    code, err = cli_main(["compare", str(a), str(tmp_path / "missing")])
    assert code == 2 and "holds no valid score" in one_line(err)
