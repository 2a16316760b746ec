"""The classical NMF separator (methods/nmf.py): no network, no training steps, and on mixtures of
two tones with distinct spectra it separates (an independent check: SI-SDR from the closed form)."""

import math

import torch

from surf_bench import config, registry
from surf_bench.data.base import DataSpec
from surf_bench.metrics.audio import audio_slot_scores


def tones(batch=4, length=16000, rate=16000):
    g = torch.Generator().manual_seed(0)
    t = torch.arange(length) / rate
    low = 200 + 100 * torch.rand(batch, 1, generator=g)
    high = 2000 + 1000 * torch.rand(batch, 1, generator=g)
    env = (torch.sin(2 * math.pi * torch.rand(batch, 2, 1, generator=g) * 3 * t) > 0).float() * 0.8 + 0.2
    sources = torch.stack([torch.sin(2 * math.pi * low * t), 0.5 * torch.sign(torch.sin(2 * math.pi * high * t))], 1)
    return sources * env


def test_nmf_learns_nothing_and_separates_two_tones():
    cls = registry.get_method("nmf")
    assert cls.trains is False and cls.modalities == ("audio",)
    spec = DataSpec("tones", "audio", 2, (16000,), "sum", 16000)
    method = cls(spec, config.resolve("smoke", "audio", cls.preset_defaults))
    assert not list(method.net.parameters())
    sources = tones()
    mix = sources.sum(1)
    est = method.separate(mix, generator=torch.Generator().manual_seed(0))
    assert est.shape == sources.shape and torch.allclose(est.sum(1), mix, atol=1e-4)
    scores = audio_slot_scores(est, sources, mix)
    improvement = scores["si_sdr"] - scores["si_sdr_mix"]
    assert float(improvement.mean()) > 6.0, improvement


def test_a_method_that_learns_nothing_runs_as_a_cell_without_steps(tmp_path):
    from surf_bench.engine.runner import CellRequest, run_cell

    overrides = {"train.threads": 1, "eval.n_items": 8, "eval.sdr_items": 0, "eval.pesq_items": 0}
    record = run_cell(CellRequest("nmf", "speech2-mini", "smoke", 0, overrides, tmp_path, "cpu"),
                      log=lambda *_: None)
    folder = tmp_path / "speech2-mini" / "nmf" / "smoke" / "default" / "seed0"
    assert record["train"]["steps"] == 0 and record["trains"] is False
    assert (folder / "model.pt").is_file() and not (folder / "train_log.csv").exists()
    assert record["provenance"]["n_params"] == 0
