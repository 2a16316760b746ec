"""`surf-bench tune`: an Optuna study of the teacher's EMA decay alpha (and any other setting) on
the validation split (docs/architecture.md, "Tuning").

- Every trial is a variant cell of the study's (method, dataset, preset, seed): its settings name
  it (``v-<hash>``), so a repeated point reuses the finished cell, and all trials share one MixIT
  init cell (the tuned settings are not inherited). Trials are scored on ``valid``; the test split
  is never opened.
- Objective ``oracle`` (the default, as papers tune): the validation split's headline metric
  (PSNR, SI-SDRi), maximised. ``unsupervised``: the remix-consistency error of
  surf_bench.engine.criterion from validation mixtures alone, minimised. Both are recorded per trial, and
  the summary reports how well the unsupervised one ranks the trials (Spearman's rho against the
  oracle).
- Spaces: ``key=log1m:LO:HI`` searches 1 - value on a log scale in [LO, HI] (alpha near 1),
  ``log:LO:HI``, ``float:LO:HI``, ``int:LO:HI``, ``cat:A,B,...``.
- Pruning: the trial's network is scored every ``--prune-every`` steps on the first
  ``--prune-items`` validation mixtures (Trainer's monitor) and reported; the median or Hyperband
  pruner stops hopeless trials, which leave ``pruned.json`` in their cell.
- Storage: a JournalStorage file under ``<out>/tune/<study>/`` by default (safe for workers started
  together, unlike SQLite), or any RDB URL. Workers ask for trials under a lock until the study
  has ``--trials`` complete, pruned or running ones. A launcher (not ``--join``) first marks trials
  left RUNNING by a killed worker as FAIL (JournalStorage has no heartbeat) and queues their
  parameters again, so the budget is given back and the retry resumes the cell's checkpoint.
- Output: ``best.yaml`` (``settings.<method>`` as params.yaml takes it), ``trials.csv``,
  ``summary.json`` and Optuna's plots as PNG files.
"""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import Interrupted, SurfBenchError, UsageError

KINDS = ("log1m", "log", "float", "int", "cat")
DEFAULT_SPACES = ("unsup.ema_decay=log1m:1e-4:3e-2",)
OBJECTIVES = ("oracle", "unsupervised")
PRUNERS = ("median", "hyperband", "none")
WORKER_TIMEOUT_MIN = 30 * 24 * 60  # a worker job runs until its study has its trials


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UsageError("surf-bench tune needs Optuna: pip install -e '.[tune]' (with -c constraints-cpu.txt "
                         "on a CPU machine)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


# --- search spaces ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Space:
    key: str  # config key, e.g. unsup.ema_decay
    kind: str  # one of KINDS
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    @property
    def name(self) -> str:
        """The Optuna parameter: 1 - value for log1m (so the log scale resolves alpha near 1)."""
        return f"1-{self.key}" if self.kind == "log1m" else self.key

    def suggest(self, trial):
        """The config value of the trial's suggestion (alpha itself for log1m, not 1 - alpha)."""
        if self.kind == "cat":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        raw = trial.suggest_float(self.name, self.low, self.high, log=self.kind in ("log", "log1m"))
        return 1.0 - raw if self.kind == "log1m" else raw

    def value(self, params: dict):
        """The config value of a trial's parameters."""
        raw = params[self.name]
        return 1.0 - raw if self.kind == "log1m" else raw


def parse_space(text: str) -> Space:
    """``key=kind:LO:HI`` or ``key=cat:A,B`` (see the module docstring)."""
    from .. import config as config_mod

    example = "e.g. --param unsup.ema_decay=log1m:1e-4:3e-2 or --param unsup.teacher_nfe=int:1:5"
    key, sep, spec = text.partition("=")
    kind, _, rest = spec.partition(":")
    key = key.strip()
    if not sep or kind not in KINDS or not rest:
        raise UsageError(f"--param {text!r}: expected KEY=KIND:LO:HI with KIND in {', '.join(KINDS)} ({example})")
    probe = config_mod.RunConfig()
    section, _, attr = key.partition(".")
    # An unknown key gets the standard error (with a did-you-mean); a known one is set to itself.
    config_mod.apply_overrides(probe, {key: getattr(getattr(probe, section, None), attr, None)})
    if kind == "cat":
        choices = tuple(c for c in rest.split(",") if c)
        if len(choices) < 2:
            raise UsageError(f"--param {text!r}: a categorical space needs two or more choices ({example})")
        return Space(key, kind, choices=choices)
    try:
        low, high = (float(v) for v in rest.split(":"))
    except ValueError:
        raise UsageError(f"--param {text!r}: LO and HI must be numbers ({example})") from None
    if not low < high or (kind in ("log", "log1m") and low <= 0):
        raise UsageError(f"--param {text!r}: needs LO < HI{' and LO > 0 on a log scale' if 'log' in kind else ''}")
    if kind == "log1m" and high >= 1:
        raise UsageError(f"--param {text!r}: log1m bounds are 1 - value and must lie in (0, 1)")
    return Space(key, kind, low, high)


# --- the study's settings ------------------------------------------------------------------------
@dataclass
class StudySpec:
    """What a study tunes; stored with the study so a resumed study cannot change its meaning."""

    method: str
    dataset: str
    preset: str = "quick"
    seed: int = 0
    study: str = ""
    trials: int = 12
    spaces: list[str] = field(default_factory=lambda: list(DEFAULT_SPACES))
    objective: str = "oracle"
    overrides: dict = field(default_factory=dict)  # fixed settings of every trial (--set)
    out: str = "results"
    storage: str = ""  # "" = the journal file under <out>/tune/<study>/
    device: str = "auto"
    pruner: str = "median"
    prune_every: int = 0  # 0 = a quarter of train.steps
    prune_items: int = 64
    sampler_seed: int = 0
    init_variant: str = ""  # the shared init cell's variant ("": named by its inherited settings)

    def identity(self) -> dict:
        """The settings that must match when a study is resumed by name (runtime settings such as
        threads may differ)."""
        from ..config import RUNTIME_KEYS

        identity = {k: getattr(self, k) for k in ("method", "dataset", "preset", "seed", "spaces", "objective")}
        identity["overrides"] = {k: v for k, v in self.overrides.items() if k not in RUNTIME_KEYS}
        return identity

    @property
    def folder(self) -> Path:
        return Path(self.out) / "tune" / self.study

    def parsed_spaces(self) -> list[Space]:
        spaces = [parse_space(s) for s in self.spaces]
        keys = [s.key for s in spaces]
        if len(set(keys)) != len(keys):
            raise UsageError(f"--param names a key twice: {', '.join(keys)}")
        fixed = sorted(set(keys) & set(self.overrides))
        if fixed:
            raise UsageError(f"{', '.join(fixed)} is both searched (--param) and fixed (--set); drop one")
        return spaces


def check_spec(spec: StudySpec) -> StudySpec:
    from .. import registry

    registry.get_method(spec.method)
    registry.get_dataset(spec.dataset)
    for name, value, allowed in (("--objective", spec.objective, OBJECTIVES), ("--pruner", spec.pruner, PRUNERS)):
        if value not in allowed:
            raise UsageError(f"{name} {value!r}: valid: {', '.join(allowed)}")
    if spec.trials < 1:
        raise UsageError("--trials must be >= 1")
    if not spec.study:
        spec.study = f"{spec.method}-{spec.dataset}-{spec.preset}-seed{spec.seed}-{spec.objective}"
    spec.parsed_spaces()
    return spec


def open_storage(spec: StudySpec):
    optuna = _optuna()
    if spec.storage:
        if spec.storage.startswith("sqlite"):
            print("note: SQLite races when workers start together; the default journal file does not",
                  file=sys.stderr)
        try:
            return optuna.storages.RDBStorage(spec.storage)
        except Exception as exc:  # driver missing, server down, bad URL: one line
            raise SurfBenchError(f"cannot open the study storage {spec.storage!r} ({type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:200]}); check the URL and that its driver "
                                 "(e.g. psycopg2-binary for PostgreSQL) is installed") from None
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    spec.folder.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(spec.folder / "journal.log")))


def _direction(spec: StudySpec) -> str:
    if spec.objective == "unsupervised":
        return "minimize"
    from .. import registry
    from ..metrics import catalog

    modality = registry.get_dataset(spec.dataset).modality
    return "maximize" if catalog.metric(catalog.headline(modality)).higher_is_better else "minimize"


def _pruner(spec: StudySpec, every: int, steps: int):
    optuna = _optuna()
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=every, max_resource=steps, reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=every)


def base_request(spec: StudySpec, overrides: dict | None = None, **options):
    from ..engine.cells import CellRequest

    return CellRequest(spec.method, spec.dataset, spec.preset, spec.seed, {**spec.overrides, **(overrides or {})},
                       Path(spec.out), spec.device, split="valid", init_variant=spec.init_variant or None, **options)


def load_study(spec: StudySpec, worker: int = 0):
    """Create the study or load it by name; a loaded study must tune the same thing."""
    optuna = _optuna()
    from ..engine.runner import resolve_cell

    steps = resolve_cell(base_request(spec)).cfg.train.steps
    every = spec.prune_every or max(1, steps // 4)
    study = optuna.create_study(
        study_name=spec.study, storage=open_storage(spec), load_if_exists=True, direction=_direction(spec),
        sampler=optuna.samplers.TPESampler(seed=spec.sampler_seed + worker, constant_liar=True,
                                           n_startup_trials=min(5, spec.trials)),
        pruner=_pruner(spec, every, steps))
    stored = study.user_attrs.get("spec")
    if stored is None:
        study.set_user_attr("spec", spec.identity())
    elif stored != json.loads(json.dumps(spec.identity())):
        changed = sorted(k for k in stored if stored[k] != json.loads(json.dumps(spec.identity()))[k])
        raise UsageError(f"study '{spec.study}' already exists with other settings ({', '.join(changed)}); "
                         "give --study a new name, or the same settings to resume it")
    return study, every


# --- one trial -------------------------------------------------------------------------------------
class ValidationMonitor:
    """Trainer monitor: the objective on the first validation mixtures, reported to the trial."""

    def __init__(self, trial, spec: StudySpec, resolved, every: int):
        from ..data.splits import open_split

        self.trial, self.spec, self.every = trial, spec, every
        self.split = open_split(resolved.adapter, spec.dataset, "valid", resolved.root, spec.seed,
                                seconds=resolved.cfg.data.seconds)
        from .. import config as config_mod

        cfg = config_mod.from_dict(resolved.cfg.to_dict())
        cfg.eval.n_items, cfg.eval.bootstrap = spec.prune_items, 10
        cfg.eval.sdr_items = cfg.eval.pesq_items = cfg.eval.lpips_items = cfg.eval.fid_items = cfg.eval.cls_items = 0
        cfg.flow.nfe_curve = ()
        self.cfg, self.device = cfg, resolved.device
        self.last: tuple[int, float] | None = None

    def value(self, method) -> float:
        if self.spec.objective == "unsupervised":
            from ..engine.criterion import remix_consistency

            return float(remix_consistency(method, self.split, self.cfg, self.device)["remix_error_db"])
        from ..engine.evaluate import evaluate
        from ..metrics import catalog

        result = evaluate(method, self.split, self.cfg, self.device)
        return float(result["metrics"][catalog.headline(self.split.spec.modality)])

    def __call__(self, step: int, method) -> None:
        optuna = _optuna()
        value = self.value(method)
        self.last = (step, value)
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (intermediate value {value:.3f})")


def trial_values(record: dict) -> dict:
    """The oracle (headline metric) and unsupervised (remix error) values of a validation score."""
    from ..metrics import catalog

    headline = catalog.headline(record["modality"])
    oracle = (record.get("metrics") or {}).get(headline)
    remix = (record.get("unsupervised") or {}).get("remix_error_db")
    return {"oracle": None if oracle is None else float(oracle), "unsupervised": None if remix is None else
            float(remix), "metric": headline}


def describe(settings: dict) -> str:
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items())


def run_trial(trial, spec: StudySpec, spaces: list[Space], every: int, log=print) -> float:
    optuna = _optuna()
    from ..engine.runner import resolve_cell, run_cell
    from ..files import atomic_write_json

    overrides = {s.key: s.suggest(trial) for s in spaces}
    request = base_request(spec, overrides)
    resolved = resolve_cell(request)
    trial.set_user_attr("cell", str(resolved.directory))
    trial.set_user_attr("variant", resolved.cell.variant)
    trial.set_user_attr("settings", overrides)
    monitor = None if spec.pruner == "none" else ValidationMonitor(trial, spec, resolved, every)
    request.monitor = monitor
    log(f"trial {trial.number}: {describe(overrides)} -> {resolved.directory}")
    try:
        record = run_cell(request, log=lambda *_: None)
    except optuna.TrialPruned:
        step, value = monitor.last
        atomic_write_json(resolved.directory / "pruned.json", {
            "study": spec.study, "trial": trial.number, "step": step, "value": value,
            "objective": spec.objective, "pruner": spec.pruner})
        log(f"trial {trial.number}: pruned at step {step} ({value:.3f})")
        raise
    (resolved.directory / "pruned.json").unlink(missing_ok=True)
    values = trial_values(record)
    for name, value in values.items():
        trial.set_user_attr(name, value)
    value = values["oracle"] if spec.objective == "oracle" else values["unsupervised"]
    if value is None or not math.isfinite(value):
        raise SurfBenchError(f"trial {trial.number}: the {spec.objective} value is missing or not finite")
    log(f"trial {trial.number}: {spec.objective} {value:.4f}")
    return value


def _finished(study) -> int:
    optuna = _optuna()
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)
    return len(study.get_trials(deepcopy=False, states=states))


def work(spec: StudySpec, worker: int = 0, log=print) -> None:
    """One worker: ask for trials until the study has ``spec.trials`` complete, pruned or running."""
    optuna = _optuna()
    from filelock import FileLock

    TrialState = optuna.trial.TrialState
    study, every = load_study(spec, worker)
    spaces = spec.parsed_spaces()
    lock = FileLock(str(spec.folder / "ask.lock")) if not spec.storage else nullcontext()
    spec.folder.mkdir(parents=True, exist_ok=True)
    failures = 0
    while True:
        with lock:
            if _finished(study) >= spec.trials:
                return
            trial = study.ask()
        try:
            value = run_trial(trial, spec, spaces, every, log)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            continue
        except (Interrupted, KeyboardInterrupt):
            study.tell(trial, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, skip_if_exists=False)
            raise
        except SurfBenchError as exc:  # a diverged or broken trial: recorded, the study goes on
            study.tell(trial, state=TrialState.FAIL)
            trial_error = str(exc).splitlines()[0]
            log(f"trial {trial.number} failed: {trial_error}")
            failures += 1
            if failures >= spec.trials:
                raise SurfBenchError(f"{failures} trials failed in this worker (last: {trial_error})") from None
            continue
        study.tell(trial, value)


def reclaim_stale(study, log=print) -> int:
    """Trials left RUNNING by a killed worker: FAIL, and their parameters queued again."""
    optuna = _optuna()
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in stale:
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
        log(f"trial {trial.number} was left running by a stopped worker: marked failed, queued again")
    return len(stale)


def prepare_init_cell(spec: StudySpec, log=print) -> None:
    """Train the shared init (MixIT) cell once, before workers start."""
    from ..engine.cells import INIT_WAIT_SECONDS, init_request
    from ..engine.runner import resolve_cell, train_cell

    resolved = resolve_cell(base_request(spec))
    init_method = resolved.method_cls.init_from
    if init_method and resolved.cfg.unsup.mixit_init:
        request = init_request(resolved.request, init_method)
        if spec.init_variant:  # a named cell trained elsewhere (the pipeline's): used as it is
            model = resolve_cell(request).directory / "model.pt"
            if not model.is_file():
                raise UsageError(f"the study starts from the {init_method} cell {model.parent}, which is not trained "
                                 f"yet; train it first (dvc repro {init_method}@{spec.dataset}-{spec.seed})")
            return
        if not (resolve_cell(request).directory / "model.pt").is_file():
            log(f"training the shared {init_method} cell first")
        train_cell(request, log=lambda *_: None, wait=INIT_WAIT_SECONDS)


def launch(spec: StudySpec, workers: int = 1, join: bool = False, log=print) -> dict:
    """Run the study with ``workers`` processes (each with its share of the cores), then report."""
    check_spec(spec)
    study, _ = load_study(spec)
    if not join:
        reclaim_stale(study, log)
    prepare_init_cell(spec, log)
    if workers <= 1:
        work(spec, 0, log)
    else:
        run_workers(spec, workers, log)
    return report(spec, log)


def run_workers(spec: StudySpec, workers: int, log=print) -> None:
    """``workers`` worker jobs on the study through the job pool (surf_bench.orchestration.pool), each
    with its share of the cores; their logs are ``<study>/worker<i>.log``."""
    from ..engine.threads import per_process
    from .pool import INHERIT, Job, JobPool, make_executor

    spec.folder.mkdir(parents=True, exist_ok=True)
    threads = spec.overrides.get("train.threads") or per_process(workers)
    job = asdict(spec)
    job["overrides"] = {**spec.overrides, "train.threads": threads}
    path = spec.folder / "worker.json"
    path.write_text(json.dumps(job))
    jobs = spec.folder / "workers"
    pool = JobPool(make_executor("local", jobs, threads=threads, gpus=INHERIT, timeout_min=WORKER_TIMEOUT_MIN),
                   workers, jobs, {"study": spec.study}, log=lambda *_: None)
    for index in range(workers):
        pool.add(Job(f"worker{index}", run_worker, (str(path), index), label=f"worker {index}"))
    log(f"{workers} workers on study '{spec.study}' ({threads} thread(s) each); logs in {spec.folder}/")
    try:
        pool.run(poll_seconds=1.0)
    except KeyboardInterrupt:
        pool.stop()  # each worker's running trial is marked failed and queued again; its cell checkpoints
        raise Interrupted("tune interrupted; run the same command again to resume the study") from None
    failed = [f"{s['cell']}: {s.get('error', s['state'])}" for s in pool.state.values() if s["state"] != "done"]
    if failed:
        raise SurfBenchError(f"{'; '.join(failed)}; the workers' logs are in {spec.folder}/; run the same command "
                             "again to finish the study (finished trials are kept, a trial it left running is "
                             "retried)")


def run_worker(spec_path: str, index: int) -> dict:
    """One worker job: trials of the study in ``spec_path`` until it has enough, logged to worker<index>.log."""
    spec = StudySpec(**json.loads(Path(spec_path).read_text()))
    with open(spec.folder / f"worker{index}.log", "a") as handle:

        def log(message: str) -> None:
            line = f"[worker {index} {time.strftime('%H:%M:%S')}] {message}"
            print(line, flush=True)
            handle.write(line + "\n")
            handle.flush()

        try:
            work(spec, index, log)
        except SurfBenchError as exc:
            log(f"error: {exc}")
            raise
    return {"worker": index}


# --- the report ---------------------------------------------------------------------------------
def rank_agreement(trials) -> dict:
    """Spearman's rho between the unsupervised criterion and the oracle over complete trials
    (sign flipped: a lower remix error should mean a higher oracle metric, so rho near +1 means the
    criterion ranks the trials as the clean references do)."""
    pairs = [(t.user_attrs.get("oracle"), t.user_attrs.get("unsupervised")) for t in trials]
    pairs = [(o, u) for o, u in pairs if o is not None and u is not None]
    if len(pairs) < 3:
        return {"spearman_rho": None, "trials": len(pairs)}
    from scipy.stats import spearmanr

    rho = spearmanr([o for o, _ in pairs], [-u for _, u in pairs]).statistic
    return {"spearman_rho": None if not math.isfinite(rho) else float(rho), "trials": len(pairs)}


def _plots(study, folder: Path, n_params: int) -> list[str]:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    warnings.filterwarnings("ignore", category=_optuna().exceptions.ExperimentalWarning)
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    written = []
    makers = [("history.png", vis.plot_optimization_history), ("slice.png", vis.plot_slice),
              ("intermediate.png", vis.plot_intermediate_values)]
    if n_params > 1:
        makers.append(("importance.png", vis.plot_param_importances))
    for name, make in makers:
        try:
            axes = make(study)
        except Exception as exc:  # too few trials for a plot: say so, keep the rest
            print(f"note: plot {name} skipped ({type(exc).__name__}: {str(exc)[:80]})", file=sys.stderr)
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
        figure.tight_layout()
        figure.savefig(folder / name, dpi=100)
        plt.close(figure)
        written.append(name)
    return written


def report(spec: StudySpec, log=print) -> dict:
    """best.yaml, trials.csv, summary.json and the plots of a study."""
    import yaml

    optuna = _optuna()
    study, _ = load_study(spec)
    folder = spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    counts = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
              for state in optuna.trial.TrialState}
    study.trials_dataframe().to_csv(folder / "trials.csv", index=False)
    summary = {"study": spec.study, "storage": spec.storage or str(folder / "journal.log"),
               "direction": study.direction.name.lower(), "objective": spec.objective, "trials": counts,
               "rank_agreement": rank_agreement(complete), **spec.identity()}
    if complete:
        best = study.best_trial
        spaces = spec.parsed_spaces()
        settings = {s.key: s.value(best.params) for s in spaces}
        summary.update(best_value=best.value, best_trial=best.number, best_settings=settings,
                       best_cell=best.user_attrs.get("cell"), metric=best.user_attrs.get("metric"))
        flags = " ".join(f"-S settings.{spec.method}.{k}={v}" for k, v in settings.items())
        header = (f"# surf-bench tune: {spec.method} on {spec.dataset} ({spec.preset}, seed {spec.seed}), objective "
                  f"{spec.objective} on the validation split, best of {len(complete)} complete trials\n"
                  f"# params.yaml takes `settings` as it is; or: dvc exp run {flags}\n")
        body = {"study": spec.study, "objective": spec.objective, "metric": best.user_attrs.get("metric"),
                "best_value": float(best.value), "best_trial": best.number,
                "settings": {spec.method: {k: (float(v) if isinstance(v, float) else v) for k, v in settings.items()}}}
        (folder / "best.yaml").write_text(header + yaml.safe_dump(body, sort_keys=False))
        summary["plots"] = _plots(study, folder, len(spaces))
        log(f"best of {len(complete)} trials: {describe(settings)} ({spec.objective} {best.value:.4f}); "
            f"{folder / 'best.yaml'}")
    else:
        log(f"study '{spec.study}' has no complete trial yet ({counts})")
    rho = summary["rank_agreement"]["spearman_rho"]
    if rho is not None:
        log(f"unsupervised criterion vs oracle over {summary['rank_agreement']['trials']} trials: Spearman rho "
            f"{rho:.2f}")
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
