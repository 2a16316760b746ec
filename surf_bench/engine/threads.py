"""CPU threads for a run on a machine that other work may share (docs/architecture.md, "Environment").

Two rules, measured in benchmarks/bench_threads.py:
- OpenMP waits passively (``OMP_WAIT_POLICY=PASSIVE``, set by ``surf_bench/__init__.py`` before
  torch is imported, unless the user set it): an idle OpenMP thread sleeps instead of spinning, so a
  run whose threads outnumber the free cores slows down in proportion instead of collapsing.
- ``train.threads = 0`` (auto) takes the cores this process may use (``sched_getaffinity``) minus
  the cores other processes keep busy now, sampled from ``/proc/stat`` over a fraction of a second
  at the start of the run, and never fewer than one.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch

PROC_STAT = Path("/proc/stat")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), or the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def per_process(processes: int) -> int:
    """Threads for each of ``processes`` runs sharing this machine: cores / processes, at least 1."""
    return max(1, available_cores() // max(1, processes))


def _cpu_times(stat: Path) -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from the first line of /proc/stat; None if unreadable."""
    try:
        fields = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def busy_cores(seconds: float = 0.3, stat: Path = PROC_STAT) -> float:
    """Cores kept busy by running processes over ``seconds`` (busy share of all CPUs x CPU count).

    The caller sleeps while it samples, so the figure is other processes' load. 0.0 where
    /proc/stat cannot be read (not Linux)."""
    first = _cpu_times(stat)
    if first is None:
        return 0.0
    time.sleep(seconds)
    second = _cpu_times(stat)
    if second is None or second[1] <= first[1]:
        return 0.0
    share = (second[0] - first[0]) / (second[1] - first[1])
    return max(0.0, share) * (os.cpu_count() or 1)


def auto_threads(cores: int, busy: float) -> int:
    """Free cores: ``cores - busy``, a core counted busy from half its time on, at least 1."""
    return max(1, min(cores, cores - math.floor(busy + 0.5)))


def set_threads(requested: int) -> int:
    """Set torch's intra-op threads: ``requested`` if > 0, else auto_threads of this machine now."""
    if requested <= 0:
        cores = available_cores()
        requested = auto_threads(cores, busy_cores()) if cores > 1 else 1
    torch.set_num_threads(max(1, requested))
    return torch.get_num_threads()
