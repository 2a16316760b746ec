"""A grid of cells with their dependencies, in dependency order (docs/architecture.md, "The plan").

A params file (YAML; DVC's params.yaml uses the same keys) names the grid:

    preset: quick
    datasets: [mnist2-mini]
    methods: [mixit, remixit, surf_rm]
    seeds: [0, 1]
    set: {train.threads: 1}              # overrides for every cell
    variants:                            # optional, per method: name -> overrides
      surf_rm:
        ema999: {unsup.ema_decay: 0.999}

Every (dataset, method, seed) gets one cell per variant listed for its method (the preset's own
``default`` when none is). A method with ``init_from`` depends on the init method's cell for the
same dataset, preset and seed, with the overrides it inherits (network, data: see
surf_bench.engine.cells.init_request); that cell joins the plan if the grid does not name it, and comes first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import registry
from ..engine.cells import init_request
from ..errors import UsageError
from ..method import settings_read

KEYS = ("preset", "datasets", "methods", "seeds", "set", "variants", "settings", "split", "out", "tables", "tune")


@dataclass(frozen=True)
class PlannedCell:
    index: int
    dataset: str
    method: str
    preset: str
    variant: str
    seed: int
    overrides: dict = field(default_factory=dict)
    depends_on: int | None = None  # index of the init cell
    named_variant: str | None = None  # the variant's name in the params file (None: derived)
    init_variant: str | None = None  # the init cell's name when it is a named variant of the grid

    def to_dict(self) -> dict:
        return asdict(self)


def _as_list(value, key: str) -> list:
    if isinstance(value, (str, int)):
        return [value]
    if not isinstance(value, list) or not value:
        raise UsageError(f"params: '{key}' must be a non-empty list")
    return value


def load_params(path: Path | None) -> dict:
    """The grid's parameters from a YAML file (or {} when no file is given)."""
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise UsageError(f"cannot read params file {path} ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"params file {path} is not valid YAML ({' '.join(str(exc).split())[:160]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"params file {path} must hold a mapping with keys {', '.join(KEYS)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UsageError(f"params file {path}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(KEYS)}")
    return data


def flat_overrides(value, where: str) -> dict:
    """section.key -> value; nested mappings ({unsup: {ema_decay: x}}, what `dvc exp run -S
    settings.surf_rm.unsup.ema_decay=x` writes) are joined with dots."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"params: '{where}' must map section.key to a value")
    flat = {}
    for key, item in value.items():
        if isinstance(item, dict):
            flat.update({f"{key}.{k}": v for k, v in flat_overrides(item, f"{where}.{key}").items()})
        else:
            flat[str(key)] = ",".join(str(x) for x in item) if isinstance(item, list) else item
    return flat


def expand(params: dict) -> list[PlannedCell]:
    """The cells of a grid, each once, init cells before the cells that start from them."""
    from ..engine.runner import CellRequest, resolve_cell

    preset = str(params.get("preset", "quick"))
    datasets = [str(d) for d in _as_list(params.get("datasets", ["mnist2-mini"]), "datasets")]
    methods = [str(m) for m in _as_list(params.get("methods", list(registry.methods())), "methods")]
    seeds = [int(s) for s in _as_list(params.get("seeds", [0]), "seeds")]
    common = flat_overrides(params.get("set"), "set")
    variants = params.get("variants") or {}
    if not isinstance(variants, dict):
        raise UsageError("params: 'variants' must map a method to {variant name: overrides}")
    for method in variants:
        registry.get_method(method)
    cells: list[PlannedCell] = []
    seen: dict[tuple, int] = {}

    def named_init(init) -> PlannedCell | None:
        """A named variant of the grid, planned before, that trains what the init cell trains: the
        same values of every setting the init method reads (method.reads_setting)."""
        kind = registry.get_method(init.method).kind
        return next((c for c in cells if c.named_variant and (c.dataset, c.method, c.seed) == (
            init.dataset, init.method, init.seed) and settings_read(kind, c.overrides) == settings_read(
                kind, init.overrides)), None)

    def add(dataset: str, method: str, seed: int, overrides: dict, name: str | None) -> int:
        request = CellRequest(method, dataset, preset, seed, overrides, variant=name)
        resolved = resolve_cell(request)
        key = (dataset, method, preset, resolved.cell.variant, seed)
        if key in seen:
            known = cells[seen[key]]
            kind = resolved.method_cls.kind
            if settings_read(kind, known.overrides) != settings_read(kind, overrides):
                raise UsageError(f"params: variant '{resolved.cell.variant}' of {method} on {dataset} is given "
                                 "twice with different settings")
            return seen[key]
        depends_on = init_variant = None
        init_method = resolved.method_cls.init_from
        if init_method and resolved.cfg.unsup.mixit_init:
            init = init_request(request, init_method)
            named = named_init(init)
            if named is not None:  # the grid trains that cell anyway: start from it
                depends_on, init_variant = named.index, named.named_variant
            else:
                depends_on = add(init.dataset, init.method, init.seed, init.overrides, init.variant)
        cells.append(PlannedCell(len(cells), dataset, method, preset, resolved.cell.variant, seed, overrides,
                                 depends_on, name, init_variant))
        seen[key] = len(cells) - 1
        return len(cells) - 1

    for dataset in datasets:
        for method in methods:
            own = variants.get(method) or {None: {}}
            if not isinstance(own, dict):
                raise UsageError(f"params: variants of {method} must map a name to overrides")
            for seed in seeds:
                for name, overrides in own.items():
                    add(dataset, method, seed, {**common, **flat_overrides(overrides, f"variants.{method}")},
                        None if name is None else str(name))
    return cells


def method_overrides(path: Path, method: str) -> dict:
    """The overrides a params file gives one method (see overrides_of)."""
    return overrides_of(load_params(path), method, str(path))


def overrides_of(params: dict, method: str, where: str = "params") -> dict:
    """``set`` (every cell), then ``settings.<method>`` (the pipeline's per-method settings, see
    params.yaml)."""
    settings = params.get("settings") or {}
    if not isinstance(settings, dict):
        raise UsageError(f"params file {where}: 'settings' must map a method to its overrides")
    return {**flat_overrides(params.get("set"), "set"), **flat_overrides(settings.get(method), f"settings.{method}")}


def cell_request(cell: PlannedCell, params: dict, **options):
    """The runner's request for a planned cell (``options``: out, device, force, split, ...)."""
    from ..engine.cells import CellRequest

    out = Path(options.pop("out", None) or params.get("out", "results"))
    options.setdefault("init_variant", cell.init_variant)
    return CellRequest(cell.method, cell.dataset, cell.preset, cell.seed, dict(cell.overrides), out,
                       variant=cell.named_variant, **options)


def as_json(cells: list[PlannedCell]) -> str:
    return json.dumps([c.to_dict() for c in cells], indent=1)
