"""`surf-bench report`: one static HTML page of a results root (docs/architecture.md, "Report").

The page holds the leaderboard, ablation and paired tables with the paper column, per dataset a
side-by-side view of every method on the same test items (image grids, or spectrograms with audio
players), the metric-against-NFE curves, each cell's training curve, and each cell's provenance.
Every asset is inlined (data URIs), so the file opens anywhere, with no server and no external URL.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from . import figures, table
from .reader import CELL_KEY, code_label

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1400px;color:#222}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}h3{margin-bottom:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}tr.group td{background:#f4f4f4;text-align:left}
.caption{font-size:.8em;color:#555;max-width:1100px}.cells{display:flex;flex-wrap:wrap;gap:12px}
.cell{border:1px solid #ddd;padding:6px;border-radius:4px}.cell img{max-width:100%;display:block}
.cell p{margin:.2em 0;font-size:.8em}audio{height:28px;width:210px}.note{color:#a40}
"""


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode()


def _img(path: Path, alt: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return f'<img src="{_data_uri(path, "image/png")}" alt="{html.escape(alt)}"{size}>'


def _figure_png(draw) -> str:
    """A matplotlib figure drawn by ``draw(ax)``, as an inline <img>."""
    plt = figures._pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    draw(ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}" alt="curve">'


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per scored cell (its folder), in table order."""
    cells = frame.drop_duplicates("path")[[*CELL_KEY, "path", "modality"]]
    cells = cells.assign(folder=cells["path"].map(lambda p: str(Path(p).parent)))
    order = {m: i for i, m in enumerate(table.METHOD_ORDER)}
    cells = cells.assign(_o=cells["method"].map(lambda m: order.get(m, 99)))
    return cells.sort_values(["dataset", "_o", "method", "seed"]).drop(columns="_o")


def _separations(cells: pd.DataFrame, notes: list[str], device: str) -> str:
    out = []
    for dataset, sub in cells.groupby("dataset", sort=True):
        out.append(f"<h3>{html.escape(dataset)}: every method on the same test items</h3><div class='cells'>")
        for _, cell in sub.drop_duplicates("method").iterrows():  # the lowest seed of each method
            folder = Path(cell["folder"])
            try:
                made = figures.write_cell_figures(folder, device, score=Path(cell["path"]).name)
            except Exception as exc:  # a broken cell must not stop the page: say so on it
                notes.append(f"{folder}: no figures ({type(exc).__name__}: {str(exc)[:120]})")
                continue
            files = made.get("files", [])
            label = f"{cell['method']} (variant {cell['variant']}, seed {cell['seed']})"
            body = [f"<p><b>{html.escape(label)}</b></p>"]
            if "grid.png" in files:
                body.append(_img(folder / figures.FOLDER / "grid.png", f"{cell['method']} grid"))
            if "spectrograms.png" in files:
                body.append(_img(folder / figures.FOLDER / "spectrograms.png", f"{cell['method']} spectrograms"))
                for name in [f for f in files if f.startswith("item0_") and f.endswith(".wav")]:
                    src = _data_uri(folder / figures.FOLDER / name, "audio/wav")
                    body.append(f"<p>{html.escape(name[6:-4])} <audio controls preload='none' src='{src}'></audio></p>")
            out.append("<div class='cell'>" + "".join(body) + "</div>")
        out.append("</div>")
    return "\n".join(out)


def _nfe_curves(root: Path, cells: pd.DataFrame, split: str) -> str:
    from ..metrics import catalog
    from .reader import collect_curves, curves_of_cells

    curves = collect_curves(root)
    if curves.empty:
        return "<p>No flow cells.</p>"
    paths = set(cells["folder"])
    out = []
    for dataset, sub in curves[curves["split"] == split].groupby("dataset"):
        modality = cells.loc[cells["dataset"] == dataset, "modality"]
        if modality.empty:
            continue
        headline = catalog.headline(modality.iloc[0])
        sub = sub[sub["metric"] == headline]
        sub = curves_of_cells(sub, cells)
        if sub.empty or not paths:
            continue

        def draw(ax, sub=sub, headline=headline, dataset=dataset):
            for method, line in sub.groupby("method"):
                mean = line.groupby("nfe")["value"].mean()
                ax.plot(mean.index, mean.values, marker="o", label=method)
            ax.set_xscale("log")
            ax.set_xlabel("NFE")
            ax.set_ylabel(catalog.metric(headline).label)
            ax.set_title(dataset, fontsize=9)
            ax.legend(fontsize=7)

        out.append(_figure_png(draw))
    return "".join(out) or "<p>No flow cells.</p>"


def _training_curves(cells: pd.DataFrame) -> str:
    out = ["<div class='cells'>"]
    for _, cell in cells.iterrows():
        path = Path(cell["folder"]) / figures.FOLDER / "train_curve.png"
        if path.is_file():
            out.append(f"<div class='cell'><p>{html.escape(f'{cell.dataset} {cell.method} seed {cell.seed}')}</p>"
                       f"{_img(path, 'training curve', 260)}</div>")
    return "".join(out) + "</div>"


def _provenance(cells: pd.DataFrame) -> str:
    rows = []
    for _, cell in cells.iterrows():
        try:
            record = json.loads(Path(cell["path"]).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        prov = record.get("provenance") or {}
        rows.append([cell["dataset"], cell["method"], cell["preset"], cell["variant"], cell["seed"],
                     prov.get("config_hash"), code_label(prov.get("train_code") or prov.get("code")) or "",
                     prov.get("device"), prov.get("wall_seconds"),
                     prov.get("train_mixtures"), prov.get("finished_at")])
    head = ["dataset", "method", "preset", "variant", "seed", "config", "code", "device", "wall s",
            "training mixtures", "finished"]
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return ("<table class='provenance'><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) +
            f"</tr></thead><tbody>{body}</tbody></table>")


def build(root: Path, out: Path, split: str = "test", variant: str | None = "default", cells=None,
          device: str = "cpu") -> Path:
    """Write the report of ``root`` (cells of ``variant``, or of a grid) to ``out``."""
    from ..files import atomic_write_bytes
    from .reader import collect

    frame = collect(root)
    if cells is not None:
        frame, variant = table.select_cells(frame, cells), None
    scored = frame[frame["split"] == split]
    if variant is not None:
        scored = scored[scored["variant"] == variant]
    chosen = _cells(scored)
    notes: list[str] = []
    main = table.leaderboard(frame, "main", split, variant)
    ablation = table.leaderboard(frame, "ablation", split, variant)
    paired = table.paired(root, frame, split, variant)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sections = [
        f"<h1>surf-bench report</h1><p class='caption'>{html.escape(str(root))}, {split} split"
        f"{', variant ' + html.escape(variant) if variant else ''}, {len(chosen)} cells; written {stamp}.</p>",
        "<h2>Leaderboard</h2>", table.to_html(main, "main", split) if len(main) else "<p>No scores.</p>",
        "<h2>Ablation</h2>", table.to_html(ablation, "ablation", split) if len(ablation) else "<p>No image cells.</p>",
        "<h2>Paired differences</h2>", table.paired_html(paired, split) if len(paired) else "<p>No pairs.</p>",
        "<h2>Separations</h2>", _separations(chosen, notes, device),
        "<h2>Metric against NFE</h2>", _nfe_curves(root, chosen, split),
        "<h2>Training curves</h2>", _training_curves(chosen),
        "<h2>Provenance</h2>", _provenance(chosen),
    ]
    if notes:
        sections.append("<h2>Notes</h2>" + "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes))
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>surf-bench report</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(sections) + "</body></html>\n")
    atomic_write_bytes(Path(out), page.encode())
    return Path(out)
