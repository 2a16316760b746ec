"""Training throughput per method (steps/s and samples/s), printed as a table.

    python benchmarks/bench_train.py --dataset mnist2-mini --preset quick --steps 30 [--device cuda] [--threads N]

Measures the steady state: a few warm-up steps, then ``--steps`` timed steps of the real training
loop (data sampling, loss, backward, optimiser, EMA). Also counts the floating-point operations of
one training step (loss and backward, teacher passes included; torch.utils.flop_counter counts
matmuls and convolutions, 2 per multiply-add), so that a step's cost on other hardware can be
estimated, the achieved GFLOP/s here, and the hours one cell's training (the preset's steps)
takes at the measured rate. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import time

import torch

from surf_bench import config, registry
from surf_bench.engine.runner import pick_device
from surf_bench.engine.threads import set_threads
from surf_bench.engine.train import Trainer


def build(method_name: str, dataset: str, preset: str, device: str, overrides: dict):
    """(adapter, method, config, training split) of a method on a dataset at a preset."""
    adapter = registry.get_dataset(dataset)
    cls = registry.get_method(method_name)
    cfg = config.resolve(preset, adapter.modality, cls.preset_defaults, adapter.preset_defaults, overrides)
    split = adapter.open("train", adapter.default_root())
    return adapter, cls(split.spec, cfg, device=device), cfg, split


def step_flops(trainer: Trainer) -> int:
    """Floating-point operations of one training step (forward, teacher passes and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = trainer.sampler.next()
    with FlopCounterMode(display=False) as counter:
        trainer.method.training_loss(batch).float().backward()
    trainer.optimizer.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def measure(method_name: str, dataset: str, preset: str, steps: int, device: str, overrides: dict) -> dict:
    _, method, cfg, split = build(method_name, dataset, preset, device, overrides)
    preset_steps = cfg.train.steps
    warmup = 5
    cfg.train.steps = warmup
    cfg.train.log_every = 10**9
    cfg.train.checkpoint_every = 0
    cfg.train.checkpoint_minutes = 0
    trainer = Trainer(method, split, cfg, 0, "/tmp/surf_bench_bench.pt", log=lambda *_: None)
    trainer.run()
    cfg.train.steps = warmup + steps
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    trainer.run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    flops = step_flops(trainer)
    return {"method": method_name, "steps_per_s": steps / seconds,
            "mixtures_per_s": steps * cfg.train.batch_size / seconds,
            "params": sum(p.numel() for p in method.net.parameters()), "gflop_per_step": flops / 1e9,
            "gflop_per_s": flops / 1e9 * steps / seconds, "preset_steps": preset_steps,
            "cell_hours": preset_steps / (steps / seconds) / 3600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist2-mini")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", default="pit,floss,mixit,remixit,self_remixing,surf_rm,surf_sr")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: auto, surf_bench.engine.threads)")
    parser.add_argument("--set", action="append", default=[], help="config override key=value")
    args = parser.parse_args()
    device = pick_device(args.device)
    threads = set_threads(args.threads)
    overrides = config.parse_set_options(args.set)
    print(f"dataset={args.dataset} preset={args.preset} device={device} threads={threads}")
    print(f"{'method':<15} {'steps/s':>8} {'mixtures/s':>11} {'params':>9} {'GFLOP/step':>11} {'GFLOP/s':>8} "
          f"{'cell h':>7}")
    for name in args.methods.split(","):
        row = measure(name, args.dataset, args.preset, args.steps, device, overrides)
        print(f"{row['method']:<15} {row['steps_per_s']:8.2f} {row['mixtures_per_s']:11.1f} {row['params']:9d} "
              f"{row['gflop_per_step']:11.2f} {row['gflop_per_s']:8.1f} {row['cell_hours']:7.2f}")


if __name__ == "__main__":
    main()
