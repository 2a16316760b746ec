"""The training loop shared by every method: AdamW, warm-up + cosine schedule, gradient clipping,
EMA hook, NaN guard, and resumable checkpoints (written and checked by surf_bench.engine.checkpoint).

A checkpoint holds everything the rest of the run depends on: the modules (student and EMA
teacher), optimiser, scheduler, every random state (the method's generator, torch's CPU and CUDA
states, numpy's and Python's), the step, the data order (sampler epoch and position), the loss
accumulated since the last log line, the history, and the training settings it was written with.
Saving reads no random state, so checkpoints by step count or by wall time never change results,
and a run killed at any point and resumed ends with exactly the metrics of an uninterrupted one.
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch

from ..data.views import EpochSampler
from ..errors import CheckpointError, Interrupted, SurfBenchError, TrainingDiverged, short_error
from . import distributed
from .checkpoint import CHECKPOINT_VERSION, read_checkpoint, rng_states, set_rng_states, write_checkpoint


def lr_lambda(warmup: int, total: int, cosine: bool):
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if not cosine:
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def format_eta(seconds: float) -> str:
    """``1h02m``, ``12m05s`` or ``40s``: the remaining time of a log line."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Trainer:
    def __init__(self, method, train_split, cfg, seed: int, checkpoint: Path, log=print,
                 meta: dict | None = None, monitor=None, progress=None):
        self.method = method
        self.progress = progress  # progress(step, total, loss) after every step (a terminal's progress bar)
        # monitor(step, method) every monitor.every steps (`surf-bench tune`'s intermediate values);
        # it may raise to stop the run (a pruned trial), which saves the state first.
        self.monitor = monitor
        self.cfg = cfg
        self.checkpoint = Path(checkpoint)
        self.log = log
        tc = cfg.train
        self.sampler = EpochSampler(train_split, tc.batch_size, seed, supervised=method.supervised,
                                    limit=cfg.data.n_train, device=method.device, shard=distributed.shard)
        params = [p for p in method.net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(tc.warmup_steps, tc.steps, tc.cosine_decay))
        self.step = 0
        self.history: list[dict] = []
        self.wall_seconds = 0.0
        self.running = 0.0  # loss summed since the last log line (part of the state: history resumes exactly)
        self.saved_step: int | None = None  # step of the last checkpoint written or loaded
        self.resumed_from: int | None = None
        self._resumed_seconds = 0.0  # training seconds before this process resumed (speed is this run's)
        self.meta = dict(meta or {})  # saved with every checkpoint (e.g. the initial checkpoint's path)
        self._stop_signal: str | None = None
        self._stop_agreed = False  # a stop request seen by the last step's reduction (every rank at once)
        self._pending: list = []  # (step, loss, grad norm) on the device, not yet checked (train.sync_every)
        self._last_loss = float("nan")

    # --- checkpoint state ------------------------------------------------------------------
    def state_dict(self) -> dict:
        extra = getattr(self.method, "extra_state", None)
        return {
            "version": CHECKPOINT_VERSION,
            "step": self.step,
            "modules": {k: m.state_dict() for k, m in self.method.modules().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_states(self.method.generator),
            "sampler": self.sampler.state_dict(),
            "running_loss": self.running,
            "history": self.history,
            "wall_seconds": self.wall_seconds,
            "config": self.cfg.to_dict(),
            "method_state": extra() if callable(extra) else None,
            "meta": self.meta,
        }

    def load_state_dict(self, state: dict) -> None:
        modules = self.method.modules()
        if set(state["modules"]) != set(modules):
            raise KeyError(f"modules {sorted(state['modules'])}, this method has {sorted(modules)}")
        for key, module in modules.items():
            module.load_state_dict(state["modules"][key])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_states(self.method.generator, state["rng"])
        self.sampler.load_state_dict(state["sampler"])
        load_extra = getattr(self.method, "load_extra_state", None)
        if callable(load_extra) and state.get("method_state") is not None:
            load_extra(state["method_state"])
        self.step = int(state["step"])
        self.running = float(state["running_loss"])
        self.history = list(state["history"])
        self.wall_seconds = float(state.get("wall_seconds", 0.0))
        self.meta = dict(state.get("meta") or {})

    def save(self) -> None:
        """Write the checkpoint (rank 0 alone under torchrun: every rank holds the same weights).
        Deferred NaN checks are read first, so a checkpoint never holds a diverged state."""
        self._flush()
        if distributed.world().writer:
            write_checkpoint(self.checkpoint, self.state_dict())
        self.saved_step = self.step

    def try_resume(self) -> bool:
        """Load the checkpoint when there is one. It must be readable and written with the same
        training settings (runtime-only ones such as threads or checkpoint_every aside)."""
        state = read_checkpoint(self.checkpoint, self.cfg, self.method.kind)
        if state is None:
            return False
        try:
            self.load_state_dict(state)
        except Exception as exc:
            raise CheckpointError(
                f"checkpoint {self.checkpoint} does not fit this method's networks ({short_error(exc)}); delete "
                "it or run again with --force") from None
        self.saved_step = self.resumed_from = self.step
        self._resumed_seconds = self.wall_seconds
        self.log(f"resumed from {self.checkpoint} at step {self.step}")
        return True

    # --- the loop --------------------------------------------------------------------------
    def _diverged(self, what: str, value: float, step: int | None = None) -> TrainingDiverged:
        step = self.step + 1 if step is None else step
        kept = (f"the last good checkpoint (step {self.saved_step}) is kept at {self.checkpoint}"
                if self.saved_step is not None else "no checkpoint had been written yet")
        return TrainingDiverged(
            f"training diverged: the {what} is {value} at step {step} of {self.cfg.train.steps}; "
            f"stopped, {kept}. Lower train.lr (now {self.cfg.train.lr:g}) and run again with --force")

    def _catch_stop_signals(self) -> dict:
        """SIGTERM (schedulers, ``kill``) and Ctrl-C end the current step, checkpoint and stop; a
        second signal acts at once. Only the main thread can install handlers."""
        self._stop_signal = None
        self._stop_agreed = False
        if threading.current_thread() is not threading.main_thread():
            return {}

        def request_stop(signum, frame):
            self._stop_signal = signal.Signals(signum).name
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        for sig in previous:
            signal.signal(sig, request_stop)
        return previous

    def _interrupted(self) -> Interrupted:
        where = f"step {self.step} of {self.cfg.train.steps}"
        return Interrupted(f"stopped by {self._stop_signal} at {where}; the state is saved in "
                           f"{self.checkpoint}: run the same command again to resume")

    def run(self) -> dict:
        previous = self._catch_stop_signals()
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> dict:
        tc = self.cfg.train
        net = self.method.net
        net.train()
        start = time.perf_counter()
        last_save = start
        while self.step < tc.steps:
            if self._stop_agreed:
                self.wall_seconds += time.perf_counter() - start
                self.save()
                raise self._interrupted()
            try:
                loss = self._update(tc, net)
            except (SurfBenchError, KeyboardInterrupt):
                raise
            except RuntimeError as exc:
                hint = ("lower train.batch_size or net.channels" if "out of memory" in str(exc).lower()
                        else "rerun with --debug for the traceback")
                step = self.step + 1
                raise SurfBenchError(f"training failed at step {step}: {short_error(exc)}; {hint}") from exc
            if loss is None:  # deferred: read every train.sync_every steps and at every log line
                if self.step % tc.sync_every == 0 or self.step % tc.log_every == 0 or self.step == tc.steps:
                    self._flush()
            else:
                self.running += loss
                self._last_loss = loss
            if self.progress is not None:
                self.progress(self.step, tc.steps, self._last_loss)
            if self.step % tc.log_every == 0 or self.step == tc.steps:
                count = tc.log_every if self.step % tc.log_every == 0 else self.step % tc.log_every
                elapsed = self.wall_seconds + time.perf_counter() - start
                self.history.append({"step": self.step, "loss": self.running / max(1, count),
                                     "lr": self.scheduler.get_last_lr()[0], "seconds": round(elapsed, 2)})
                done_here = self.step - (self.resumed_from or 0)
                rate = done_here / max(elapsed - self._resumed_seconds, 1e-9)
                self.log(f"step {self.step}/{tc.steps}  loss {self.running / max(1, count):.5f}  "
                         f"{rate:.2f} it/s  eta {format_eta((tc.steps - self.step) / max(rate, 1e-9))}")
                self.running = 0.0
            every = getattr(self.monitor, "every", 0)
            if self.monitor is not None and every > 0 and self.step % every == 0 and self.step < tc.steps:
                self._flush()
                start = self._call_monitor(net, start)
            now = time.perf_counter()
            due_steps = tc.checkpoint_every > 0 and self.step % tc.checkpoint_every == 0
            due_time = tc.checkpoint_minutes > 0 and now - last_save > 60 * tc.checkpoint_minutes
            if (due_steps or due_time) and self.step < tc.steps:
                self.wall_seconds += now - start
                start = now
                self.save()
                last_save = time.perf_counter()
        self.wall_seconds += time.perf_counter() - start
        if self.saved_step != self.step:
            # The finished training state: a crash during evaluation resumes with nothing left to train.
            self.save()
        if self._stop_agreed:
            raise self._interrupted()
        net.eval()
        return {"steps": self.step, "train_seconds": round(self.wall_seconds, 2), "history": self.history,
                "resumed_from_step": self.resumed_from, "train_mixtures": self.sampler.distinct_mixtures()}

    def _call_monitor(self, net, start: float) -> float:
        """Run the monitor outside the training clock, in eval mode, with the random streams of
        training left as they were (monitored and plain runs train the same weights)."""
        paused = time.perf_counter()
        self.wall_seconds += paused - start
        states = (torch.get_rng_state(), np.random.get_state(), random.getstate())
        net.eval()
        try:
            self.monitor(self.step, self.method)
        except BaseException:
            self.save()
            raise
        finally:
            net.train()
            torch.set_rng_state(states[0])
            np.random.set_state(states[1])
            random.setstate(states[2])
        return time.perf_counter()

    def _flush(self) -> None:
        """Read the deferred losses and gradient norms (one host sync): the first non-finite one
        stops training with its step; the others join the running loss."""
        if not self._pending:
            return
        steps = [step for step, _, _ in self._pending]
        losses = torch.stack([loss for _, loss, _ in self._pending]).cpu().tolist()
        norms = [n for _, _, n in self._pending]
        norms = torch.stack(norms).cpu().tolist() if norms[0] is not None else [0.0] * len(steps)
        self._pending = []
        for step, loss, norm in zip(steps, losses, norms, strict=True):
            if not math.isfinite(loss):
                raise self._diverged("loss", loss, step)
            if not math.isfinite(norm):
                raise self._diverged("gradient norm", norm, step)
            self.running += loss
        self._last_loss = losses[-1]

    def _update(self, tc, net) -> float | None:
        """One optimiser step; returns the loss, or None when its check is deferred
        (``train.sync_every`` > 1 in one process: the loss and gradient norm stay on the device
        until _flush, so the step has no host sync; a diverged step's update is applied, but no
        checkpoint is written before the check, so the last good checkpoint is kept)."""
        defer = tc.sync_every > 1 and not distributed.world().active
        batch = self.sampler.next()
        self.method.training_step = self.step
        with torch.autocast(device_type=self.method.device.split(":")[0], dtype=torch.bfloat16,
                            enabled=tc.precision == "bf16"):
            loss = self.method.training_loss(batch)
        loss = loss.float()
        value = None
        if not defer:
            # Under torchrun: the mean loss over the ranks, and a stop request on any rank stops all.
            # The loop stops on the agreed flag, so every rank stops after the same step.
            value, self._stop_agreed = distributed.reduce_step(loss.item(), self._stop_signal is not None,
                                                               loss.device)
            if self._stop_agreed and self._stop_signal is None:
                self._stop_signal = "a signal to another process"
            if not math.isfinite(value):
                raise self._diverged("loss", value)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(net.parameters())
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), tc.grad_clip) if tc.grad_clip > 0 else None
        if defer:
            self._pending.append((self.step + 1, loss.detach(), None if norm is None else norm.detach()))
            self._stop_agreed = self._stop_signal is not None  # one process: its own signal
        elif norm is not None and not math.isfinite(norm_value := float(norm)):
            raise self._diverged("gradient norm", norm_value)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        epoch_ended = self.sampler.position + self.sampler.batch_size > self.sampler.size
        self.method.after_step(self.step, epoch_ended)
        return value
