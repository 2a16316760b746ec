"""Checkpoint files and random states: what makes a resumed run end exactly like an uninterrupted one.

A checkpoint (see surf_bench.engine.train.Trainer.state_dict for its content) is written atomically, and
read back only when it has this version and was written with the same training settings (the
runtime-only ones aside), so a resumed run cannot silently mix two configs.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..config import RUNTIME_KEYS, config_differences, describe_differences
from ..errors import CheckpointError
from ..files import atomic_torch_save, load_torch
from ..method import reads_setting

CHECKPOINT_VERSION = 2
# What a checkpoint is compared on when a run resumes: the settings that shape training.
TRAINING_SECTIONS = ("train", "net", "flow", "unsup", "data")


def _numpy_state() -> dict:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "gauss": float(gauss)}


def _set_numpy_state(state: dict) -> None:
    np.random.set_state((state["name"], state["keys"].numpy().astype(np.uint32), state["pos"],
                         state["has_gauss"], state["gauss"]))


def rng_states(generator: torch.Generator) -> dict:
    states = {"generator": generator.get_state(), "torch": torch.get_rng_state(), "numpy": _numpy_state(),
              "python": list(_python_state())}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _python_state():
    version, internal, gauss = random.getstate()
    return version, list(internal), gauss


def set_rng_states(generator: torch.Generator, states: dict) -> None:
    generator.set_state(states["generator"])
    torch.set_rng_state(states["torch"])
    _set_numpy_state(states["numpy"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def write_checkpoint(path: Path, state: dict) -> None:
    atomic_torch_save(path, state)


def read_checkpoint(path: Path, cfg, kind: str = "flow") -> dict | None:
    """The checkpoint at ``path`` (None when there is none), checked for version and the settings a
    method of ``kind`` reads (method.reads_setting)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = load_torch(path)  # on the CPU: RNG states must stay there
        if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
            raise ValueError("not a checkpoint of this version of surf-bench")
    except ValueError as exc:
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({exc}); delete it to train this cell from the "
            "start, or run again with --force") from None
    differences = config_differences(state.get("config", {}), cfg.to_dict(), ignore=RUNTIME_KEYS,
                                     sections=TRAINING_SECTIONS, keep=partial(reads_setting, kind))
    if differences:
        raise CheckpointError(
            f"checkpoint {path} (step {state.get('step')}) was written with other settings "
            f"({describe_differences(differences)}); run again with --force to start over with the new "
            "ones, or with the old ones to resume")
    return state
