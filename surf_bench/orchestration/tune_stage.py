"""The pipeline's optional tune stage (dvc.yaml ``tune@<dataset>``; docs/architecture.md, "Tuning").

params.yaml's ``tune`` section (off by default) names the methods to tune and the datasets whose
validation split scores the trials. Every named method gets the same study (same space, trials and
objective: the same tuning effort), on top of its pipeline settings (``set`` and
``settings.<method>``), starting from the pipeline's own MixIT cell. The stage writes
``results/tuned/<dataset>.yaml`` with ``settings.<method>`` for every method of the registry (empty
when not tuned, so DVC finds every key it tracks); the cell stages read their method's entry with
``surf-bench run --tuned FILE``, so a tuned value re-runs exactly the cells that use it. The test
split is never read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import registry
from ..errors import UsageError
from .plan import flat_overrides, load_params, method_overrides, overrides_of

INIT_METHODS = ("mixit",)  # the shared start of the remixers: not tuned by this stage
DEFAULTS = {"enabled": False, "datasets": [], "methods": [], "param": [], "trials": 12, "workers": 1,
            "objective": "oracle", "pruner": "median", "seed": 0}


def _nest(flat: dict) -> dict:
    """{'unsup.ema_decay': x} -> {'unsup': {'ema_decay': x}} (what params files and DVC keys hold)."""
    out: dict = {}
    for key, value in flat.items():
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = float(value) if isinstance(value, float) else value
    return out


def tune_section(params: dict) -> dict:
    """params.yaml's ``tune`` with defaults, checked; UsageError on a bad entry."""
    given = params.get("tune") or {}
    if not isinstance(given, dict):
        raise UsageError("params: 'tune' must be a mapping (enabled, datasets, methods, param, trials, ...)")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise UsageError(f"params: tune has unknown key(s) {', '.join(unknown)}; valid: {', '.join(DEFAULTS)}")
    section = {**DEFAULTS, **given}
    for key in ("datasets", "methods", "param"):
        value = section[key]
        section[key] = [value] if isinstance(value, str) else list(value or [])
    for method in section["methods"]:
        registry.get_method(method)
        if method in INIT_METHODS:
            raise UsageError(f"params: tune.methods names {method}, the shared init of the remixers; tune it by "
                             "hand (a variant grid) so that every method starting from it is re-measured")
    grid = [str(d) for d in (params.get("datasets") or [])]
    outside = [d for d in section["datasets"] if d not in grid]
    if outside and section["enabled"]:  # off, it tunes nothing: a grid of other datasets needs no edit here
        raise UsageError(f"params: tune.datasets {', '.join(outside)} not in the grid's datasets ({', '.join(grid)})")
    if section["enabled"] and int(section["seed"]) not in [int(s) for s in params.get("seeds") or [0]]:
        raise UsageError(f"params: tune.seed {section['seed']} must be one of seeds {params.get('seeds')} (the "
                         "study starts from that seed's MixIT cell)")
    return section


def study_spec(params: dict, section: dict, method: str, dataset: str, out: Path):
    from . import tune

    overrides = overrides_of(params, method)
    spec = tune.StudySpec(method=method, dataset=dataset, preset=str(params.get("preset", "quick")),
                          seed=int(section["seed"]), trials=int(section["trials"]),
                          spaces=list(section["param"] or tune.DEFAULT_SPACES), objective=str(section["objective"]),
                          overrides=overrides, out=str(out), pruner=str(section["pruner"]), init_variant="pipeline")
    # Named by what it tunes: new pipeline settings start a new study; more trials resume this one.
    digest = hashlib.sha256(json.dumps(spec.identity(), sort_keys=True, default=str).encode()).hexdigest()[:8]
    spec.study = f"pipeline-{method}-{dataset}-{spec.preset}-seed{spec.seed}-{spec.objective}-{digest}"
    return tune.check_spec(spec)


def run_stage(params_path: Path, dataset: str, out: Path, write: Path, log=print) -> dict:
    """Run this dataset's studies (if the stage is on) and write its tuned-settings file."""
    import yaml

    from ..files import atomic_write_bytes
    from . import tune

    params = load_params(params_path)
    section = tune_section(params)
    if dataset not in [str(d) for d in params.get("datasets") or []]:
        raise UsageError(f"tune stage: {dataset} is not in the grid's datasets")
    settings = {name: {} for name in registry.methods()}
    studies = {}
    active = section["enabled"] and dataset in section["datasets"]
    for method in section["methods"] if active else []:
        spec = study_spec(params, section, method, dataset, out)
        summary = tune.launch(spec, workers=int(section["workers"]), log=log)
        if summary.get("best_settings") is None:
            raise UsageError(f"tune stage: the {method} study on {dataset} ended with no complete trial; see "
                             f"{spec.folder}")
        settings[method] = _nest(summary["best_settings"])
        studies[method] = {"study": spec.study, "folder": str(spec.folder), "objective": spec.objective,
                           "metric": summary.get("metric"), "best_value": float(summary["best_value"]),
                           "trials": summary["trials"]}
    header = ("# surf-bench tune stage (params.yaml `tune`): the settings each method's cells take on "
              f"{dataset}; {'tuned on the validation split' if studies else 'nothing tuned'}\n")
    body = {"dataset": dataset, "enabled": bool(active), "studies": studies, "settings": settings}
    atomic_write_bytes(Path(write), (header + yaml.safe_dump(body, sort_keys=False)).encode())
    log(f"tune stage {dataset}: {', '.join(studies) or 'nothing tuned'} -> {write}")
    return body


def tuned_overrides(path: Path, dataset: str, method: str) -> dict:
    """The overrides a tune stage's file gives ``method`` (``surf-bench run --tuned FILE``)."""
    import yaml

    try:
        body = yaml.safe_load(Path(path).read_text()) or {}
    except OSError:
        raise UsageError(f"--tuned {path}: cannot read it; run the tune stage first (dvc repro "
                         f"tune@{dataset})") from None
    except yaml.YAMLError:
        raise UsageError(f"--tuned {path} is not valid YAML; run the tune stage again (dvc repro -f "
                         f"tune@{dataset})") from None
    if not isinstance(body, dict) or body.get("dataset") != dataset or not isinstance(body.get("settings"), dict):
        raise UsageError(f"--tuned {path} holds no tuned settings for {dataset}; it is written by the tune stage "
                         f"(dvc repro tune@{dataset})")
    return flat_overrides(body["settings"].get(method), f"settings.{method}")


def stage_overrides(params: Path | None, dataset: str, method: str, tuned: Path | None) -> dict:
    """A pipeline cell's settings (what `surf-bench run --params P --tuned T` trains with): the
    params file's ``set`` and ``settings.<method>``, then the tune stage's entry for the method."""
    overrides = method_overrides(params, method) if params is not None else {}
    if tuned is not None:
        overrides.update(tuned_overrides(tuned, dataset, method))
    return overrides
