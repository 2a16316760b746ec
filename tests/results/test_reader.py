"""Reading finished cells back: the NFE curves that belong to a set of cells."""

import pandas as pd

from surf_bench.results.reader import CELL_KEY, curves_of_cells


def test_curves_of_cells_keeps_presets_apart_when_variant_names_repeat():
    curve = [{"dataset": "mnist2-mini", "method": "floss", "preset": preset, "variant": "default", "seed": 0,
              "split": "valid", "nfe": nfe, "metric": "psnr", "value": value}
             for preset, base in (("quick", 19.0), ("long", 20.0)) for nfe, value in ((1, base), (2, base + 0.5))]
    curves = pd.DataFrame(curve)
    quick = pd.DataFrame([{"dataset": "mnist2-mini", "method": "floss", "preset": "quick", "variant": "default",
                           "seed": 0, "mean": 19.2}] * 2)  # a cell listed twice (valid and test rows)
    picked = curves_of_cells(curves, quick)
    assert len(picked) == 2 and set(picked["preset"]) == {"quick"}
    assert picked.groupby("nfe")["value"].mean().to_dict() == {1: 19.0, 2: 19.5}
    assert curves_of_cells(curves, quick.assign(seed=1)).empty
    assert set(CELL_KEY) <= set(picked.columns)
