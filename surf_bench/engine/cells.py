"""The cell: identity, request, folder, variant naming and the init cell a cell starts from
(docs/architecture.md, "The cell").

A cell is (dataset, method, preset, variant, seed), stored at
``<out>/<dataset>/<method>/<preset>/<variant>/seed<N>/``. The variant is ``default`` when the
resolved config trains what the preset's own does (runtime-only and scoring-only settings aside);
otherwise the name given with ``--variant``, or ``v-`` and a short hash of the settings that
differ from the preset. So
every ``--set`` ablation or tuning trial gets its own folder, and cells that differ only in their
own settings share one init (MixIT) cell: :func:`init_request` is the one rule that names it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RUNTIME_KEYS, flat_config
from ..errors import UsageError
from ..method import NOISE_END_KEYS, settings_read

SPLITS = ("test", "valid")
DEFAULT_VARIANT = "default"
# What a cell hands to the cells that start from it depends on these settings only: the network,
# the data, the noise end of the bridge and the loss threshold. An init cell inherits just these
# overrides of the cell that asks for it.
INHERITED_SECTIONS = ("net", "data")
INHERITED_KEYS = NOISE_END_KEYS | {"unsup.snr_tau", "train.threads"}
# Settings that change how a cell is scored, not what it trains: not part of the variant's name
# (a finished score asked for with other values of these is still refused, naming them).
SCORING_SECTIONS = ("eval",)
SCORING_KEYS = frozenset({"flow.nfe", "flow.nfe_curve"})
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# How long a cell waits for a busy init cell (another process training it) before giving up.
INIT_WAIT_SECONDS = float(os.environ.get("SURF_BENCH_INIT_WAIT", 6 * 3600))


@dataclass(frozen=True)
class Cell:
    dataset: str
    method: str
    preset: str
    variant: str = DEFAULT_VARIANT
    seed: int = 0

    def path(self, out: Path) -> Path:
        return Path(out) / self.dataset / self.method / self.preset / self.variant / f"seed{self.seed}"

    def label(self) -> str:
        variant = "" if self.variant == DEFAULT_VARIANT else f", variant {self.variant}"
        return f"{self.method} on {self.dataset} [{self.preset}{variant}, seed {self.seed}]"


@dataclass
class CellRequest:
    method: str
    dataset: str
    preset: str = "quick"
    seed: int = 0
    overrides: dict = field(default_factory=dict)
    out: Path = Path("results")
    device: str = "auto"
    force: bool = False
    data_root: str | None = None
    variant: str | None = None  # None: "default", or a hash of the settings that differ from the preset
    split: str = "test"  # what to score: test (the final number) or valid (every choice)
    init_variant: str | None = None  # the init cell's variant (None: named by its inherited settings)
    monitor: object = None  # runtime only, never part of the cell: see Trainer (tune's pruning)
    rescore: bool = False  # score model.pt again with the current scoring settings (never retrains)
    progress: object = None  # runtime only: progress(step, total, loss) after every training step


def metrics_name(split: str) -> str:
    """metrics.json holds the final (test) score; other splits get metrics.<split>.json."""
    return "metrics.json" if split == "test" else f"metrics.{split}.json"


def items_name(split: str) -> str:
    return "items.csv" if split == "test" else f"items.{split}.csv"


def check_split_name(split: str) -> str:
    if split not in SPLITS:
        raise UsageError(f"unknown split '{split}'. Valid: {', '.join(SPLITS)} (train is never scored)")
    return split


def check_seed(seed: int) -> int:
    if seed < 0:
        raise UsageError(f"--seed {seed}: seeds are whole numbers >= 0")
    return seed


def setting_differences(config: dict, reference: dict) -> dict:
    """{key: value} of the settings of ``config`` that differ from ``reference`` and change what
    the cell trains (runtime-only and scoring-only settings aside)."""
    a, b = flat_config(config), flat_config(reference)
    shaping = [k for k in sorted(a) if k not in RUNTIME_KEYS and k not in SCORING_KEYS
               and k.partition(".")[0] not in SCORING_SECTIONS]
    return {k: a[k] for k in shaping if a[k] != b.get(k)}


def variant_name(config: dict, preset_config: dict, explicit: str | None = None, kind: str = "flow") -> str:
    """``explicit`` if given; else ``default`` or ``v-<hash of the settings that differ>``, counting
    only the settings a method of ``kind`` reads (method.settings_read: a flow setting on a regression
    method names no new variant, as it trains nothing new)."""
    if explicit:
        if not _VARIANT_NAME.match(explicit):
            raise UsageError(f"--variant {explicit!r}: use 1-64 letters, digits, '.', '_' or '-', starting "
                             "with a letter or digit")
        return explicit
    differences = settings_read(kind, setting_differences(config, preset_config))
    if not differences:
        return DEFAULT_VARIANT
    blob = json.dumps(differences, sort_keys=True)
    return "v-" + hashlib.sha256(blob.encode()).hexdigest()[:8]


def inherited_overrides(overrides: dict) -> dict:
    """The overrides an init cell takes from the cell that starts from it."""
    return {k: v for k, v in overrides.items()
            if k.partition(".")[0] in INHERITED_SECTIONS or k in INHERITED_KEYS}


def init_request(request: CellRequest, init_method: str) -> CellRequest:
    """The request of the init cell that ``request``'s cell starts from (``init_method``, the
    method's ``init_from``): the same dataset, preset, seed, results root, device and data root;
    only the overrides it inherits (:func:`inherited_overrides`: network, data, noise end, loss
    threshold, threads), so cells that differ only in their own settings share it; the variant
    ``request.init_variant`` (None: named by those settings); never forced, and scored (if at
    all) on the default split. See docs/architecture.md, "The cell"."""
    return CellRequest(init_method, request.dataset, request.preset, request.seed,
                       inherited_overrides(request.overrides), request.out, request.device, False,
                       request.data_root, variant=request.init_variant)


def check_layout(out: Path, cell: Cell) -> None:
    """Results written before variants existed (``<preset>/seed<N>/``) get a one-line way forward."""
    old = Path(out) / cell.dataset / cell.method / cell.preset / f"seed{cell.seed}"
    if (old / "metrics.json").exists() or (old / "model.pt").exists():
        new = old.parent / DEFAULT_VARIANT
        raise UsageError(f"{old} uses the layout from before variants; move it into a variant folder, e.g. "
                         f"`mkdir -p {new} && mv {old} {new}/` when it has the preset's own settings, or delete it")
