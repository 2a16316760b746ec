"""Figures of a finished cell, written into ``<cell>/figures/`` (docs/architecture.md, "Report").

Everything is rebuilt from the cell's own files, so any finished cell can get its figures later:
``model.pt`` (weights and full config) separates the first test items, the same items for every
method of a dataset, so grids compare; ``train_log.csv`` gives the training curve, ``metrics.json``
the metric-against-NFE curve of flow methods.

- image: ``grid.png``, rows = items, columns = mixture, references, estimates (estimates PIT-aligned
  to the references, so column k of every method shows the estimate of source k);
- audio: ``spectrograms.png`` (log-magnitude STFT of mixture, references, estimates) and
  ``item<i>_{mixture,ref<k>,est<k>}.wav`` (16-bit PCM, one gain per item so levels compare);
- ``train_curve.png``, ``nfe_curve.png`` (flows); ``examples.json`` lists what was written.

Matplotlib runs with the non-interactive Agg backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

IMAGE_ITEMS = 8
AUDIO_ITEMS = 2
FOLDER = "figures"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def separate_examples(model_path: Path, device: str = "cpu") -> dict:
    """The first test items of the cell's dataset: mixture [N, *S], references and PIT-aligned
    estimates [N, K, *S] (flows at the scoring NFE, with the scoring noise seed)."""
    from .. import config as config_mod
    from .. import registry
    from ..data.base import mixture_sum
    from ..data.splits import open_split
    from ..files import load_torch
    from ..maths.pit import pit_align

    state = load_torch(model_path)
    cfg = config_mod.from_dict(state["config"])
    adapter = registry.get_dataset(state["dataset"])
    method_cls = registry.get_method(state["method"])
    root = Path(cfg.data.root) if cfg.data.root else adapter.default_root()
    seconds = ((state.get("config") or {}).get("data") or {}).get("seconds", 0.0)
    split = open_split(adapter, state["dataset"], "test", root, int(state.get("seed", 0)), seconds=seconds)
    spec = split.spec
    count = min(len(split), IMAGE_ITEMS if spec.modality == "image" else AUDIO_ITEMS)
    method = method_cls(spec, cfg, device=device, generator=torch.Generator().manual_seed(0))
    method.net.load_state_dict(state["net"])
    method.net.eval()
    index = torch.arange(count)
    mix = mixture_sum(split.mixtures(index), spec).to(device)
    refs = split.sources_batch(index).to(device)
    est = method.separate(mix, nfe=cfg.flow.nfe, generator=torch.Generator().manual_seed(cfg.eval.seed))
    est = pit_align(refs, est)  # estimates in the references' order
    return {"modality": spec.modality, "mixing": spec.mixing, "sample_rate": spec.sample_rate,
            "items": split.item_ids()[:count], "mix": mix.cpu(), "refs": refs.cpu(), "est": est.cpu(),
            "method": state["method"], "dataset": state["dataset"]}


def image_grid(examples: dict, path: Path) -> None:
    plt = _pyplot()
    mix, refs, est = examples["mix"], examples["refs"], examples["est"]
    n, k = refs.shape[:2]
    shown = mix / k  # the summed mixture shown at the sources' scale (the mean mixture of image data)
    columns = [("mixture", shown)] + [(f"ref {j + 1}", refs[:, j]) for j in range(k)] + \
              [(f"est {j + 1}", est[:, j]) for j in range(k)]
    fig, axes = plt.subplots(n, len(columns), figsize=(1.1 * len(columns), 1.1 * n), squeeze=False)
    for col, (title, images) in enumerate(columns):
        for row in range(n):
            image = images[row].clamp(0, 1).permute(1, 2, 0).numpy()
            axes[row, col].imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray", vmin=0,
                                  vmax=1)
            axes[row, col].set_axis_off()
        axes[0, col].set_title(title, fontsize=7)
    fig.suptitle(f"{examples['method']} on {examples['dataset']}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _spectrogram(signal: torch.Tensor, n_fft: int = 512) -> np.ndarray:
    window = torch.hann_window(n_fft)
    spec = torch.stft(signal.float(), n_fft, n_fft // 4, window=window, return_complex=True).abs()
    return 20 * torch.log10(spec + 1e-5).numpy()


def spectrograms(examples: dict, path: Path) -> None:
    plt = _pyplot()
    mix, refs, est = examples["mix"], examples["refs"], examples["est"]
    n, k = refs.shape[:2]
    fig, axes = plt.subplots(n, 1 + 2 * k, figsize=(2.0 * (1 + 2 * k), 1.6 * n), squeeze=False)
    for i in range(n):
        panels = [("mixture", mix[i])] + [(f"ref {j + 1}", refs[i, j]) for j in range(k)] + \
                 [(f"est {j + 1}", est[i, j]) for j in range(k)]
        top = _spectrogram(mix[i]).max()
        for col, (title, signal) in enumerate(panels):
            axes[i, col].imshow(_spectrogram(signal), origin="lower", aspect="auto", vmin=top - 80, vmax=top,
                                cmap="magma")
            axes[i, col].set_axis_off()
            if i == 0:
                axes[i, col].set_title(title, fontsize=7)
    fig.suptitle(f"{examples['method']} on {examples['dataset']}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_wavs(examples: dict, folder: Path) -> list[str]:
    import soundfile as sf

    written = []
    mix, refs, est = examples["mix"], examples["refs"], examples["est"]
    for i in range(refs.shape[0]):
        signals = {"mixture": mix[i]} | {f"ref{j + 1}": refs[i, j] for j in range(refs.shape[1])} | \
                  {f"est{j + 1}": est[i, j] for j in range(est.shape[1])}
        peak = max(float(s.abs().max()) for s in signals.values())
        gain = 0.95 / peak if peak > 0.95 else 1.0  # one gain per item: levels stay comparable
        for name, signal in signals.items():
            target = folder / f"item{i}_{name}.wav"
            sf.write(target, (signal.numpy() * gain).astype(np.float32), examples["sample_rate"], subtype="PCM_16")
            written.append(target.name)
    return written


def train_curve(log_csv: Path, path: Path) -> bool:
    import pandas as pd

    if not log_csv.is_file():
        return False
    frame = pd.read_csv(log_csv)
    if frame.empty:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.plot(frame["step"], frame["loss"], lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    if (frame["loss"] > 0).all():
        ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def nfe_curve(record: dict, path: Path) -> bool:
    from ..metrics import catalog

    points = record.get("nfe_curve") or []
    headline = catalog.headline(record["modality"])
    points = [p for p in points if p.get(headline) is not None]
    if not points:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.plot([p["nfe"] for p in points], [p[headline] for p in points], marker="o")
    references = [("mixture", (record.get("baseline") or {}).get(headline), "grey", "--")]
    # Oracle sets: where a point estimate can reach (Bayes) and where a calibrated sampler lands.
    for name, label, color in (("bayes_mean", "Bayes posterior mean", "green"),
                               ("posterior_sample", "exact posterior sample", "orange")):
        references.append((label, ((record.get("references") or {}).get(name) or {}).get(headline), color, ":"))
    drawn = [(label, value, color, style) for label, value, color, style in references if value is not None]
    for label, value, color, style in drawn:
        ax.axhline(value, color=color, ls=style, lw=1, label=label)
    if drawn:
        ax.legend(fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("NFE (Euler steps)")
    ax.set_ylabel(catalog.metric(headline).label)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write_cell_figures(cell: Path, device: str = "cpu", force: bool = False, score: str = "metrics.json") -> dict:
    """The figures of one finished cell (folder with model.pt and its score file ``score``); kept
    when made from the same model.pt unless ``force``. Returns the contents of figures/examples.json."""
    from ..files import file_sha256

    folder = Path(cell) / FOLDER
    index = folder / "examples.json"
    model = Path(cell) / "model.pt"
    digest = file_sha256(model) if model.is_file() else None
    if index.is_file() and not force:
        known = json.loads(index.read_text())
        if known.get("model_sha256") == digest:  # figures of this very model
            return known
    folder.mkdir(exist_ok=True)
    record = json.loads((Path(cell) / score).read_text())
    written: dict = {"method": record["method"], "dataset": record["dataset"], "model_sha256": digest,
                     "files": []}
    if (Path(cell) / "model.pt").is_file():
        examples = separate_examples(Path(cell) / "model.pt", device)
        written["items"] = examples["items"]
        if examples["modality"] == "image":
            image_grid(examples, folder / "grid.png")
            written["files"].append("grid.png")
        else:
            spectrograms(examples, folder / "spectrograms.png")
            written["files"] += ["spectrograms.png", *write_wavs(examples, folder)]
    if train_curve(Path(cell) / "train_log.csv", folder / "train_curve.png"):
        written["files"].append("train_curve.png")
    if nfe_curve(record, folder / "nfe_curve.png"):
        written["files"].append("nfe_curve.png")
    index.write_text(json.dumps(written, indent=1))
    return written
