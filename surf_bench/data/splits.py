"""Opening a dataset's splits: ``adapter.open`` with every failure turned into one DataError that
names the files (used by the cell engine, the evaluator classifier, tuning and figures)."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, SurfBenchError, short_error
from .base import DatasetAdapter, check_split


def open_split(adapter, name: str, split: str, root: Path, seed: int, dynamic_mixing: bool = False,
               seconds: float = 0.0):
    """``adapter.open`` with every failure turned into one DataError that names the files."""
    options = {"dynamic_mixing": True} if dynamic_mixing and split == "train" else {}
    if seconds and getattr(adapter, "crop_setting", False):
        options["seconds"] = seconds
    try:
        opened = adapter.open(split, root, seed=seed, **options)
    except SurfBenchError:
        raise
    except OSError as exc:
        where = exc.filename or root
        raise DataError(f"{name}/{split}: cannot read {where} ({exc.strerror or exc}); check the files under "
                        f"{root}") from exc
    except Exception as exc:
        own = type(adapter).fetch is DatasetAdapter.fetch  # no downloader: the user's own files
        advice = ("check them" if own else
                  f"check them or fetch the dataset again (surf-bench fetch {name} --root {root})")
        raise DataError(f"{name}/{split}: the files under {root} could not be read ({short_error(exc)}); "
                        f"{advice}") from exc
    return check_split(opened, f"{name}/{split}")
