"""One job pool for every launcher: the grid launcher, the pipeline launcher and tune's workers
(docs/architecture.md, "Launch").

A job is a picklable call that submitit runs: ``local``, a subprocess on this machine; ``slurm``, an
sbatch job. The pool keeps at most ``max_parallel`` jobs in flight and starts a job once the job it
waits for (``after``: the key of its init cell's job) is done; the jobs that wait for a failed or
skipped job are skipped, the others go on. Interrupted, it settles the jobs that have just finished
and stops the running ones at a checkpoint (the cells resume next time). After every poll it writes
its record, ``<folder>/launch.json``: per job its state (waiting, running, done, failed, skipped,
stopped), job id, start and end, result or error and log file.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import SurfBenchError, UsageError

EXECUTORS = ("local", "slurm")
INHERIT = -1  # gpus: a local job sees the GPUs this process sees


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def job_error(text: str) -> str:
    """The job's own error line out of submitit's failure report (its traceback's last exception)."""
    lines = [line.strip() for line in text.splitlines() if "Error: " in line and "FailedJobError" not in line]
    return (lines[-1] if lines else " ".join(text.split()))[:300]


def visible_gpus() -> tuple[int, ...]:
    """The GPUs this process sees, as submitit's local executor names them (CUDA_VISIBLE_DEVICES or all)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        names = [name.strip() for name in listed.split(",") if name.strip()]
        if all(name.isdigit() for name in names):
            return tuple(int(name) for name in names)
    import torch

    return tuple(range(torch.cuda.device_count()))


def make_executor(kind: str, folder: Path, *, threads: int, gpus: int, partition: str = "", timeout_min: int):
    """submitit's executor for ``kind``; ``gpus`` per job (``INHERIT``: a local job sees this process's GPUs)."""
    if kind not in EXECUTORS:
        raise UsageError(f"--executor {kind!r}: valid: {', '.join(EXECUTORS)}")
    try:
        import submitit
    except ImportError:
        raise UsageError("launching jobs needs submitit: pip install -e '.[cluster]' (with -c constraints-cpu.txt "
                         "on a CPU machine)") from None
    parameters = {"timeout_min": timeout_min, "name": "surf-bench", "gpus_per_node": gpus}
    if kind == "local":
        executor = submitit.LocalExecutor(folder=str(folder))
        if gpus == INHERIT:
            shown = visible_gpus()
            parameters.update(gpus_per_node=len(shown), visible_gpus=shown)
    else:
        executor = submitit.AutoExecutor(folder=str(folder), cluster=kind)
        parameters.update(gpus_per_node=max(gpus, 0), cpus_per_task=threads, tasks_per_node=1, nodes=1)
        if partition:
            parameters["slurm_partition"] = partition
    executor.update_parameters(**parameters)
    return executor


def stop_jobs(jobs, wait_seconds: float = 300.0) -> None:
    """Stop running jobs so that their cells checkpoint: a local job's submitit controller gets
    SIGTERM, which it forwards once to the cell (its ``cancel`` sends SIGINT and then SIGKILL after
    a second, which can cut a checkpoint short); a SLURM job is cancelled (scancel sends SIGTERM).
    Waits until the local jobs have exited."""
    local = []
    for job in jobs:
        process = getattr(job, "_process", None)  # submitit's LocalJob: the controller's Popen
        if process is None:
            job.cancel(check=False)
            continue
        process.send_signal(signal.SIGTERM)
        local.append(process)
    deadline = time.time() + wait_seconds
    while any(p.poll() is None for p in local) and time.time() < deadline:
        time.sleep(0.2)


@dataclass
class Job:
    """A call for the pool: ``fn(*args)`` once the job ``after`` is done; ``label`` names it in the record."""

    key: str
    fn: Callable
    args: tuple = ()
    after: str | None = None
    label: str = ""


class JobPool:
    """Submit, poll, gate on ``after``, stop at a checkpoint, record.

    ``on_submit(job)`` runs just before a job is submitted and returns fields for its record;
    ``on_done(job, result)`` runs when a job has finished (an error it raises stops the pool: the
    job is not marked done); ``on_failed(job, error)`` when one has failed. Either may ``add`` jobs.
    """

    def __init__(self, submitter, max_parallel: int, folder: Path, header: dict | None = None, log=print,
                 on_submit=None, on_done=None, on_failed=None):
        if max_parallel < 1:
            raise UsageError("--max-parallel must be >= 1")
        self.submitter, self.max_parallel, self.folder, self.log = submitter, max_parallel, Path(folder), log
        self.header = {**(header or {}), "max_parallel": max_parallel}
        self.on_submit, self.on_done, self.on_failed = on_submit, on_done, on_failed
        self.state: dict[str, dict] = {}
        self.waiting: list[Job] = []
        self.running: dict[str, tuple[Job, object]] = {}

    def add(self, job: Job) -> None:
        self.state[job.key] = {"cell": job.label or job.key, "state": "waiting"}
        self.waiting.append(job)

    def mark(self, key: str, state: str, **fields) -> None:
        """Record a job that will not be submitted (a stage blocked by a failed one, say)."""
        self.state.setdefault(key, {"cell": key}).update(state=state, **fields)

    def unfinished(self) -> dict[str, str]:
        return {key: s["cell"] for key, s in self.state.items() if s["state"] != "done"}

    def run(self, poll_seconds: float = 2.0, until: float | None = None) -> None:
        """Until no job waits or runs (then the record is complete), or until ``until`` (a
        time.monotonic() value), when the running jobs are stopped at a checkpoint."""
        while self.waiting or self.running:
            if until is not None and time.monotonic() >= until:
                self.stop()
                return
            self._collect()
            self._start()
            self.save()
            if self.waiting or self.running:
                time.sleep(poll_seconds)

    def _collect(self) -> None:
        for key, (job, handle) in list(self.running.items()):
            if not handle.done():
                continue
            del self.running[key]
            try:
                result = handle.result()
            except Exception as exc:  # the job's own error, with its log file
                error = job_error(str(exc))
                self.state[key].update(state="failed", error=error, log=str(handle.paths.stderr))
                self.log(f"failed  {self.state[key]['cell']}: see {handle.paths.stderr}")
                if self.on_failed:
                    self.on_failed(job, error)
                continue
            if self.on_done:
                try:
                    self.on_done(job, result)
                except Exception as exc:  # e.g. files edited during the launch: the pool stops here
                    self.state[key].update(state="finished, not settled", error=str(exc))
                    self.save()
                    raise
            self.state[key].update(state="done", **(result if isinstance(result, dict) else {}))
            self.log(f"done    {self.state[key]['cell']}")

    def _start(self) -> None:
        for job in list(self.waiting):
            parent = self.state.get(job.after) if job.after is not None else None
            if parent is not None and parent["state"] in ("failed", "skipped"):
                self.waiting.remove(job)
                self.state[job.key].update(state="skipped", error=f"its init cell {parent['cell']} failed")
                self.log(f"skipped {self.state[job.key]['cell']} (its init cell failed)")
            elif (parent is None or parent["state"] == "done") and len(self.running) < self.max_parallel:
                self.waiting.remove(job)
                fields = self.on_submit(job) if self.on_submit else {}
                handle = self.submitter.submit(job.fn, *job.args)
                self.running[job.key] = (job, handle)
                self.state[job.key].update(state="running", job_id=str(handle.job_id), **fields)
                self.log(f"started {self.state[job.key]['cell']} (job {handle.job_id})")

    def stop(self, settle=None) -> None:
        """Interrupted: the jobs that have just finished are settled (``settle(job, result)``, else
        recorded as done), the running ones stopped at a checkpoint; the record is saved."""
        for key, (job, handle) in list(self.running.items()):
            if not handle.done():
                continue
            try:
                result = handle.result()
            except Exception:  # a failed job is left for the next launch
                continue
            del self.running[key]
            try:
                if settle:
                    settle(job, result)
                self.state[key].update(state="done", **(result if isinstance(result, dict) else {}))
            except SurfBenchError as exc:  # e.g. files edited meanwhile: left for the next launch
                self.state[key].update(state="finished, not settled", error=str(exc))
        self.abort()

    def abort(self) -> None:
        """Stop the running jobs at a checkpoint, as they are (nothing settled); the record is saved."""
        stop_jobs([handle for _, handle in self.running.values()])
        for key in self.running:
            self.state[key]["state"] = "stopped"
        self.save()

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "launch.json").write_text(json.dumps({**self.header, "cells": self.state}, indent=1,
                                                            default=str))
