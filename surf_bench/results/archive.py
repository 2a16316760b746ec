"""Keep a results root's scores in a folder small enough to commit (docs/architecture.md, "Results").

A finished cell's scores are what every table, curve and the budget study read: ``metrics*.json``,
their per-item rows ``items*.csv`` and the training curve ``train_log.csv``. ``archive_scores``
copies exactly those files of every cell that has a score, under the same relative path, so
``surf-bench table --root ARCHIVE`` and ``benchmarks/budget_study.py --summarise --out ARCHIVE``
rebuild their figures from the archive alone (no weights, checkpoints or locks: a few tens of kB a
cell). Runs on machines that do not keep their results folder add up this way across sessions.

An archived score is never overwritten: a file that is already there with the same bytes is
skipped (a ``train_log.csv`` also when only its wall-clock ``seconds`` column differs: the same
training rerun on a faster machine, e.g. to add a validation score to a test-scored cell); one with
other bytes stops the whole archive before anything is copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import SurfBenchError
from ..files import atomic_write_bytes
from .reader import score_records

SCORE_FILES = ("metrics*.json", "items*.csv", "train_log.csv")


@dataclass
class ArchiveReport:
    copied: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    cells: int = 0


def score_files(root: Path) -> list[Path]:
    """The score files of every cell under ``root`` that has a score ``results.collect`` reads."""
    cells = sorted({path.parent for path, _ in score_records(root)})
    return [path for cell in cells for pattern in SCORE_FILES for path in sorted(cell.glob(pattern))]


def _same_score(source: Path, target: Path) -> bool:
    """Same bytes, or for a training log the same rows once the wall-clock column is dropped."""
    if target.read_bytes() == source.read_bytes():
        return True
    if source.name != "train_log.csv":
        return False
    without_time = [pd.read_csv(path).drop(columns="seconds", errors="ignore") for path in (source, target)]
    return without_time[0].equals(without_time[1])


def archive_scores(root: Path, to: Path) -> ArchiveReport:
    """Copy the score files under ``root`` to the same relative paths under ``to``.

    Raises ``SurfBenchError`` (and copies nothing) when an archived file differs from its source."""
    root, to = Path(root), Path(to)
    if not root.is_dir():
        raise SurfBenchError(f"no results folder {root}; pass the --root that `surf-bench run --out` wrote to")
    if to.resolve() == root.resolve() or root.resolve() in to.resolve().parents:
        raise SurfBenchError(f"the archive {to} must lie outside the results folder {root}")
    files = score_files(root)
    report = ArchiveReport(cells=len({path.parent for path in files}))
    pending, conflicts = [], []
    for source in files:
        target = to / source.relative_to(root)
        if not target.exists():
            pending.append((source, target))
        elif _same_score(source, target):
            report.unchanged.append(target)
        else:
            conflicts.append(target)
    if conflicts:
        raise SurfBenchError(f"{len(conflicts)} archived score file(s) differ from {root}, first {conflicts[0]}; "
                             "the archive keeps finished scores: archive into another folder, or delete the "
                             "archived cell by hand if the new run replaces it")
    for source, target in pending:
        atomic_write_bytes(target, source.read_bytes())
        report.copied.append(target)
    return report
