"""The plan of cells: a params file expands into cells with their init dependencies; a cell of
the plan runs by index; two variants of one cell share one MixIT cell."""

import json
from pathlib import Path

import pytest

from surf_bench.errors import UsageError
from surf_bench.orchestration.plan import expand, load_params
from tests.engine.test_reliability import TINY, cli_main, make_mnist_root, set_options

PARAMS = """
preset: smoke
datasets: [mnist2]
methods: [pit, surf_rm]
seeds: [0, 1]
set: {set}
variants:
  surf_rm:
    fast: {{unsup.ema_decay: 0.9}}
    slow: {{unsup.ema_decay: 0.999, flow.sigma: 0.2}}
"""


def write_params(tmp_path: Path, out: Path) -> Path:
    overrides = {k: v for k, v in set_options(TINY).items()}
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS.format(set=json.dumps(overrides)) + f"out: {out}\n")
    return path


def test_grid_expands_in_dependency_order_with_what_init_cells_inherit(tmp_path):
    cells = expand(load_params(write_params(tmp_path, tmp_path / "out")))
    names = [(c.method, c.variant, c.seed) for c in cells]
    assert len(cells) == 2 + 2 * 2 + 2 * 2  # pit, surf_rm x 2 variants, mixit x 2 (sigmas): each x 2 seeds
    for c in cells:
        assert c.index == cells.index(c)
        if c.method == "surf_rm":
            init = cells[c.depends_on]
            assert init.method == "mixit" and init.seed == c.seed and init.index < c.index
            # The init cell inherits the network, data and noise-end settings, not the method's own.
            assert "unsup.ema_decay" not in init.overrides and "train.steps" not in init.overrides
            assert init.overrides["net.channels"] == c.overrides["net.channels"]
            assert ("flow.sigma" in init.overrides) == (c.variant == "slow")
        else:
            assert c.depends_on is None
    assert ("surf_rm", "fast", 0) in names and ("surf_rm", "slow", 1) in names
    fast = [c for c in cells if c.variant == "fast"]
    assert cells[fast[0].depends_on].variant == cells[fast[1].depends_on].variant  # one mixit variant
    slow = [c for c in cells if c.variant == "slow"][0]
    assert cells[slow.depends_on].variant != cells[fast[0].depends_on].variant  # another sigma, another mixit


@pytest.mark.parametrize("text, fragment", [
    ("methods: [pit]\nfoo: 1\n", "unknown key(s) foo"),
    ("methods: [surf_sx]\n", "unknown method 'surf_sx'"),
    ("methods: []\n", "'methods' must be a non-empty list"),
    ("- a\n- b\n", "must hold a mapping"),
    ("methods: [pit\n", "is not valid YAML"),
])
def test_bad_params_files_are_one_line_errors(tmp_path, text, fragment):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=None) as info:
        expand(load_params(path))
    assert fragment in str(info.value)


def test_cells_cli_and_run_by_index_share_one_mixit_cell(tmp_path):
    data = make_mnist_root(tmp_path / "mnist", n_train=60, n_test=16)
    out = tmp_path / "out"
    params = write_params(tmp_path, out)
    code, err = cli_main(["cells", "--params", str(params), "--json"])
    assert code == 0, err
    cells = expand(load_params(params))
    runs = [c for c in cells if c.method == "surf_rm" and c.seed == 0]
    fast = next(c for c in runs if c.variant == "fast")
    for c in (fast, next(c for c in cells if c.method == "pit" and c.seed == 0)):
        code, err = cli_main(["run", "--cell", str(c.index), "--params", str(params), "--data-root", str(data),
                              "--device", "cpu"])
        assert code == 0, err
    # A --set ablation of the same cell lands beside it and reuses the same mixit cell.
    code, err = cli_main(["run", "-m", "surf_rm", "-d", "mnist2", *TINY, "--set", "unsup.ema_decay=0.5",
                          "--data-root", str(data), "--out", str(out)])
    assert code == 0, err
    assert "training it first" not in err  # the mixit cell trained for the 'fast' cell is reused
    folders = sorted(p.parent.parent.name for p in (out / "mnist2" / "surf_rm" / "smoke").glob("*/seed0/metrics.json"))
    assert len(folders) == 2 and "fast" in folders
    mixits = list((out / "mnist2" / "mixit" / "smoke").glob("*/seed0/model.pt"))
    assert len(mixits) == 1
    infos = [json.loads(p.read_text()) for p in (out / "mnist2" / "surf_rm" / "smoke").glob("*/seed0/metrics.json")]
    assert {i["provenance"]["init_checkpoint"] for i in infos} == {str(mixits[0])}
    code, err = cli_main(["run", "--cell", "99", "--params", str(params)])
    assert code == 2 and "has 10 cells (0..9)" in err


def test_a_named_init_variant_with_the_inherited_settings_is_the_init_cell_of_the_grid():
    from surf_bench.orchestration.plan import cell_request

    net = {"net.channels": 6, "train.threads": 1}
    variants = {"mixit": {"narrow": {}}, "remixit": {"narrow": {}},
                "surf_rm": {"narrow-slow": {"unsup.ema_decay": 0.999}, "wide": {"net.channels": 8}}}
    grid = {"preset": "smoke", "datasets": ["mnist2-mini"], "methods": ["mixit", "remixit", "surf_rm"], "seeds": [0],
            "set": net, "variants": variants}
    cells = expand(grid)
    by_name = {(c.method, c.variant): c for c in cells}
    mixit = by_name["mixit", "narrow"]
    for variant, method in (("narrow", "remixit"), ("narrow-slow", "surf_rm")):  # own settings differ only
        cell = by_name[method, variant]
        assert cell.depends_on == mixit.index and cell.init_variant == "narrow"
        assert cell_request(cell, grid).init_variant == "narrow"  # the runner starts from that folder
    wide = by_name["surf_rm", "wide"]  # another network: its own init cell, named by its settings
    assert wide.init_variant is None and cells[wide.depends_on].variant.startswith("v-")
    assert sum(c.method == "mixit" for c in cells) == 2


def test_a_flow_setting_of_the_grid_does_not_split_the_init_cell():
    """MixIT does not read flow.level_norm (method.reads_setting), so a grid that sets it for every
    method still trains one MixIT, the named one, for its remixers and SURF."""
    grid = {"preset": "smoke", "datasets": ["mnist2-mini"], "methods": ["mixit", "remixit", "surf_sr"], "seeds": [0],
            "set": {"net.channels": 6, "flow.level_norm": True},
            "variants": {"mixit": {"narrow": {}}, "remixit": {"narrow": {}}, "surf_sr": {"narrow": {}}}}
    cells = expand(grid)
    (mixit,) = [c for c in cells if c.method == "mixit"]
    assert mixit.variant == "narrow"
    assert all(c.depends_on == mixit.index and c.init_variant == "narrow" for c in cells if c.method != "mixit")
    # a setting MixIT reads still gives the remixers their own init cell
    grid["set"] = {"net.channels": 6, "train.lr": 0.01}
    assert sum(c.method == "mixit" for c in expand(grid)) == 2


def test_a_flow_setting_on_every_unnamed_cell_plans_one_mixit():
    """Without named variants, a flow setting for every method leaves MixIT's cell `default` (it reads no
    flow setting, so no `v-` name), which is also the remixers' init cell: one cell, not a clash."""
    grid = {"preset": "smoke", "datasets": ["gmm2"], "methods": ["mixit", "remixit", "floss"], "seeds": [0],
            "set": {"flow.t0_prob": 0.5}}
    cells = expand(grid)
    (mixit,) = [c for c in cells if c.method == "mixit"]
    assert mixit.variant == "default"
    remixit, floss = (next(c for c in cells if c.method == m) for m in ("remixit", "floss"))
    assert remixit.variant == "default" and remixit.depends_on == mixit.index
    assert floss.variant.startswith("v-")  # floss reads it
