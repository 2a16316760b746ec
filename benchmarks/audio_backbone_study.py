"""The audio backbone study's summary (issue 31; docs/results.md, "Audio that separates"): every cell of
a dataset under one or more results roots, its SI-SDRi at the headline NFE and along the NFE curve,
and the paired difference against the same method's U-Net default at the same preset and seed
(a benchmark that prints figures; it trains nothing).

    python benchmarks/audio_backbone_study.py --root results/ab --root benchmarks/results/cells \\
        --dataset speech2-mini --split valid --out benchmarks/results

Writes ``audio_backbone_<dataset>_<split>.md`` and ``.csv``. A cell found under two roots is read
from the first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from surf_bench.results.compare import compare
from surf_bench.results.table import METHOD_ORDER

BASELINE = "default"


def cells(roots: list[Path], dataset: str, split: str) -> dict[tuple, Path]:
    """(method, preset, variant, seed) -> cell folder, first root first."""
    found: dict[tuple, Path] = {}
    for root in roots:
        for metrics in sorted((root / dataset).glob(f"*/*/*/seed*/metrics.{split}.json")):
            folder = metrics.parent
            key = (folder.parts[-4], folder.parts[-3], folder.parts[-2], int(folder.name[4:]))
            found.setdefault(key, folder)
    return found


def summary(roots: list[Path], dataset: str, split: str) -> pd.DataFrame:
    found = cells(roots, dataset, split)
    rows = []
    for (method, preset, variant, seed), folder in found.items():
        record = json.loads((folder / f"metrics.{split}.json").read_text())
        config = record["provenance"]["config"]
        row = {"method": method, "preset": preset, "variant": variant, "seed": seed,
               "steps": config["train"]["steps"], "arch": config["net"].get("arch", "unet"),
               "si_sdri": record["metrics"].get("si_sdri"), "nfe": record.get("nfe")}
        for point in record.get("nfe_curve") or []:
            row[f"si_sdri@{point['nfe']}"] = point.get("si_sdri")
        base = found.get((method, preset, BASELINE, seed))
        if base is not None and variant != BASELINE:
            paired = compare(folder, base, split=split, metric="si_sdri")
            row.update(vs_default=paired.mean_diff, low=paired.low, high=paired.high)
        rows.append(row)
    frame = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    return frame.sort_values(["method", "preset", "variant", "seed"], key=lambda c: c.map(order).fillna(99)
                             if c.name == "method" else c).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, action="append", required=True)
    parser.add_argument("--dataset", default="speech2-mini")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    frame = summary(args.root, args.dataset, args.split)
    stem = args.out / f"audio_backbone_{args.dataset}_{args.split}"
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    text = (f"# Audio backbones on {args.dataset} ({args.split} split)\n\nSI-SDRi in dB (headline NFE for flows, "
            "then the NFE curve); vs_default: paired difference from the same method's U-Net default at the same "
            "preset and seed, with its paired bootstrap 95% interval [low, high].\n\n"
            + frame.to_markdown(index=False, floatfmt=".2f") + "\n")
    stem.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
