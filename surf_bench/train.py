"""The training loop shared by every method: AdamW, warm-up + cosine schedule, gradient clipping,
EMA hook, NaN guard, and resumable checkpoints (model, teacher, optimiser, scheduler, RNG states,
step and data order), written atomically."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from .data.views import EpochSampler
from .errors import SurfBenchError, TrainingDiverged
from .results import atomic_torch_save


def lr_lambda(warmup: int, total: int, cosine: bool):
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if not cosine:
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class Trainer:
    def __init__(self, method, train_split, cfg, seed: int, checkpoint: Path, log=print):
        self.method = method
        self.cfg = cfg
        self.checkpoint = Path(checkpoint)
        self.log = log
        tc = cfg.train
        self.sampler = EpochSampler(train_split, tc.batch_size, seed, supervised=method.supervised,
                                    limit=cfg.data.n_train, device=method.device)
        params = [p for p in method.net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(tc.warmup_steps, tc.steps, tc.cosine_decay))
        self.step = 0
        self.history: list[dict] = []
        self.wall_seconds = 0.0

    # --- checkpoint state ------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "modules": {k: m.state_dict() for k, m in self.method.modules().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.method.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "sampler": self.sampler.state_dict(),
            "history": self.history,
            "wall_seconds": self.wall_seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        for key, module in self.method.modules().items():
            module.load_state_dict(state["modules"][key])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.method.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.sampler.load_state_dict(state["sampler"])
        self.step = int(state["step"])
        self.history = list(state["history"])
        self.wall_seconds = float(state.get("wall_seconds", 0.0))

    def save(self) -> None:
        atomic_torch_save(self.checkpoint, self.state_dict())

    def try_resume(self) -> bool:
        if not self.checkpoint.exists():
            return False
        try:
            state = torch.load(self.checkpoint, map_location=self.method.device, weights_only=False)
            self.load_state_dict(state)
        except Exception as exc:
            raise SurfBenchError(f"checkpoint {self.checkpoint} is unreadable or from another config "
                                 f"({type(exc).__name__}); delete it or run with --force") from None
        self.log(f"resumed from {self.checkpoint} at step {self.step}")
        return True

    # --- the loop --------------------------------------------------------------------------
    def run(self) -> dict:
        tc = self.cfg.train
        net = self.method.net
        net.train()
        start = time.perf_counter()
        last_save = start
        running = 0.0
        while self.step < tc.steps:
            batch = self.sampler.next()
            loss = self.method.training_loss(batch)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"loss is {loss.item()} at step {self.step}; stopped. The last good checkpoint is kept at "
                    f"{self.checkpoint} (lower train.lr or raise train.grad_clip, then run again)")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), tc.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            epoch_ended = self.sampler.position + self.sampler.batch_size > self.sampler.size
            self.method.after_step(self.step, epoch_ended)
            running += loss.item()
            if self.step % tc.log_every == 0 or self.step == tc.steps:
                count = tc.log_every if self.step % tc.log_every == 0 else self.step % tc.log_every
                elapsed = self.wall_seconds + time.perf_counter() - start
                self.history.append({"step": self.step, "loss": running / max(1, count),
                                     "lr": self.scheduler.get_last_lr()[0], "seconds": round(elapsed, 2)})
                self.log(f"step {self.step}/{tc.steps}  loss {running / max(1, count):.5f}  "
                         f"{self.step / max(elapsed, 1e-9):.2f} it/s")
                running = 0.0
            now = time.perf_counter()
            due_steps = tc.checkpoint_every and self.step % tc.checkpoint_every == 0
            due_time = tc.checkpoint_minutes and now - last_save > 60 * tc.checkpoint_minutes
            if (due_steps or due_time) and self.step < tc.steps:
                self.wall_seconds += now - start
                start = now
                self.save()
                last_save = now
        self.wall_seconds += time.perf_counter() - start
        net.eval()
        return {"steps": self.step, "train_seconds": round(self.wall_seconds, 2), "history": self.history}
