"""floss (and pit) can overfit a handful of fixed mixtures: the optimisation path works end to end."""

import torch

from surf_bench import config, registry
from surf_bench.engine.train import Trainer
from surf_bench.metrics.image import psnr_pit
from tests.helpers import tiny_image_split


def _fit(name, tmp_path, steps):
    split = tiny_image_split(n_images=8, size=8)  # 8 fixed mixtures
    cls = registry.get_method(name)
    cfg = config.resolve("smoke", "image", cls.preset_defaults, None, {
        "train.steps": steps, "train.batch_size": 8, "train.lr": 3e-3, "net.channels": 16, "net.levels": 1,
        "flow.sigma": 0.3, "flow.nfe": 8, "train.warmup_steps": 20})
    method = cls(split.spec, cfg)
    Trainer(method, split, cfg, 0, tmp_path / "ck.pt", log=lambda *_: None).run()
    index = torch.arange(len(split))
    mix = split.mixtures(index) * 2
    est = method.separate(mix, generator=torch.Generator().manual_seed(0))
    return psnr_pit(est, split.sources_batch(index)).mean().item(), psnr_pit(
        (mix / 2).unsqueeze(1).expand(-1, 2, -1, -1, -1), split.sources_batch(index)).mean().item()


def test_floss_overfits_a_handful_of_mixtures(tmp_path):
    psnr, baseline = _fit("floss", tmp_path, 400)
    assert psnr > 22.0 and psnr > baseline + 8, (psnr, baseline)
