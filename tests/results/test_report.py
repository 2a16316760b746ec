"""The report: figures rebuilt from a cell's own files (the same test items for every method,
estimates aligned to the references), and one self-contained HTML page; checked in headless
Chromium where it is installed."""

import base64
import re
import shutil
import subprocess

import pytest
import soundfile as sf

from surf_bench.engine.runner import CellRequest, resolve_cell, run_cell
from surf_bench.results import figures, report

TINY = {"train.steps": 6, "train.log_every": 2, "eval.n_items": 8, "train.threads": 1, "eval.bootstrap": 20}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    for method, dataset in (("pit", "mnist2-mini"), ("floss", "mnist2-mini"), ("pit", "speech2-mini")):
        overrides = dict(TINY, **({"eval.sdr_items": 0, "eval.pesq_items": 0} if dataset != "mnist2-mini" else {}))
        run_cell(CellRequest(method, dataset, "smoke", 0, overrides, out, "cpu"), log=lambda *_: None)
    return out


def cell(root, method, dataset):
    return resolve_cell(CellRequest(method, dataset, "smoke", 0, dict(TINY), root, "cpu")).directory


def test_figures_of_an_image_cell_use_the_first_test_items_aligned(root):
    folder = cell(root, "pit", "mnist2-mini")
    examples = figures.separate_examples(folder / "model.pt")
    assert examples["items"] == figures.separate_examples(cell(root, "floss", "mnist2-mini") / "model.pt")["items"]
    mse = ((examples["est"] - examples["refs"]) ** 2).mean(dim=(2, 3, 4))
    swapped = ((examples["est"].flip(1) - examples["refs"]) ** 2).mean(dim=(2, 3, 4))
    assert bool((mse.sum(1) <= swapped.sum(1) + 1e-9).all())  # estimates in the references' order
    made = figures.write_cell_figures(folder)
    assert {"grid.png", "train_curve.png"} <= set(made["files"])
    assert (folder / "figures" / "grid.png").stat().st_size > 2000
    assert figures.write_cell_figures(folder) == made  # same model: kept, not redrawn
    assert "nfe_curve.png" in figures.write_cell_figures(cell(root, "floss", "mnist2-mini"))["files"]


def test_audio_cell_figures_are_spectrograms_and_playable_wavs(root):
    folder = cell(root, "pit", "speech2-mini")
    made = figures.write_cell_figures(folder)
    wavs = [f for f in made["files"] if f.endswith(".wav")]
    assert "spectrograms.png" in made["files"] and len(wavs) == 2 * (1 + 2 + 2)  # 2 items: mix, 2 refs, 2 ests
    data, rate = sf.read(folder / "figures" / wavs[0])
    assert rate == 16000 and len(data) == 32000 and abs(data).max() <= 0.951


def test_the_report_is_one_self_contained_page(root, tmp_path):
    page_path = report.build(root, tmp_path / "report.html", variant=None)
    page = page_path.read_text()
    assert 'class="leaderboard"' in page and "Paired differences" in page and "Provenance" in page
    assert page.count("<audio") == 5 and page.count("data:audio/wav;base64,") == 5
    assert not re.search(r"(src|href)=['\"](?!data:)", page)  # no external or relative URL
    grid = re.search(r'src="data:image/png;base64,([^"]+)" alt="pit grid"', page)
    assert grid and base64.b64decode(grid.group(1))[:4] == b"\x89PNG"
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    (cell(broken, "floss", "mnist2-mini") / "model.pt").write_bytes(b"not a model")
    shutil.rmtree(cell(broken, "floss", "mnist2-mini") / "figures", ignore_errors=True)
    page = report.build(broken, tmp_path / "b.html", variant=None).read_text()
    assert "no figures" in page and 'class="leaderboard"' in page  # a broken cell is a note, not a crash


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None, reason="no Chromium here (Debian: apt install chromium)")
def test_the_report_renders_in_headless_chromium(root, tmp_path):
    page = report.build(root, tmp_path / "report.html", variant=None)
    shot = tmp_path / "shot.png"
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    done = subprocess.run([*base, f"--screenshot={shot}", "--window-size=1400,1600", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.stat().st_size > 10_000, done.stderr[-1000:]
    from PIL import Image

    image = Image.open(shot).convert("L")
    low, high = image.getextrema()
    assert high - low > 100  # not blank
    dom = subprocess.run([*base, "--dump-dom", "--enable-logging=stderr", "--v=0", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert "leaderboard" in dom.stdout and "pit grid" in dom.stdout
    errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
    assert not errors, errors
