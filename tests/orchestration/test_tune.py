"""`surf-bench tune`: spaces, a whole study with two workers on the journal file, the recovery of
trials a killed worker left running, the monitor leaving training unchanged, the report, and the
PostgreSQL path (skipped where no PostgreSQL server binaries are installed)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

optuna = pytest.importorskip("optuna")

from surf_bench.engine.runner import CellRequest, resolve_cell, run_cell  # noqa: E402
from surf_bench.errors import UsageError  # noqa: E402
from surf_bench.files import load_torch  # noqa: E402
from surf_bench.orchestration import tune  # noqa: E402

TINY = {"train.steps": 12, "train.log_every": 4, "eval.n_items": 24, "train.threads": 1}


@pytest.fixture(scope="module")
def mixit_cell(tmp_path_factory):
    """One smoke MixIT cell, trained once and copied into each test's results root."""
    from surf_bench.engine.runner import train_cell

    root = tmp_path_factory.mktemp("mixit")
    train_cell(CellRequest("mixit", "mnist2-mini", "smoke", 0, {"train.threads": 1}, root, "cpu"), log=lambda *_: None)
    return root / "mnist2-mini" / "mixit"


def with_mixit(root: Path, mixit_cell: Path) -> Path:
    shutil.copytree(mixit_cell, root / "mnist2-mini" / "mixit")
    return root


class FakeTrial:
    def __init__(self, raw):
        self.raw = raw

    def suggest_float(self, name, low, high, log=False):
        assert low <= self.raw <= high
        return self.raw


def test_spaces_parse_and_log1m_gives_alpha_not_one_minus_alpha():
    space = tune.parse_space("unsup.ema_decay=log1m:1e-4:3e-2")
    assert (space.name, space.low, space.high) == ("1-unsup.ema_decay", 1e-4, 3e-2)
    assert space.suggest(FakeTrial(1e-3)) == pytest.approx(0.999)
    assert space.value({"1-unsup.ema_decay": 1e-3}) == pytest.approx(0.999)
    assert tune.parse_space("unsup.ema_every=cat:step,epoch").choices == ("step", "epoch")
    for bad, message in [("unsup.ema_decai=log1m:1e-4:1e-2", "unknown override key"),
                         ("unsup.ema_decay=log1m:0:1e-2", "LO > 0"), ("unsup.ema_decay=log1m:1e-3:2", "lie in"),
                         ("unsup.ema_decay=uniform:0:1", "KIND"), ("train.lr=log:1e-2:1e-3", "LO < HI"),
                         ("unsup.ema_every=cat:step", "two or more")]:
        with pytest.raises(UsageError, match=message):
            tune.parse_space(bad)
    spec = tune.StudySpec("surf_rm", "mnist2-mini", spaces=["unsup.ema_decay=log1m:1e-4:1e-2"],
                          overrides={"unsup.ema_decay": "0.9"})
    with pytest.raises(UsageError, match="both searched"):
        spec.parsed_spaces()


def test_rank_agreement_flips_the_criterion_sign():
    trials = [optuna.trial.create_trial(value=o, user_attrs={"oracle": o, "unsupervised": u})
              for o, u in [(18.0, -9.0), (17.0, -8.0), (16.0, -7.5), (15.0, -7.0)]]
    assert tune.rank_agreement(trials) == {"spearman_rho": pytest.approx(1.0), "trials": 4}
    assert tune.rank_agreement(trials[:2])["spearman_rho"] is None


def test_a_monitor_does_not_change_what_trains(tmp_path, mixit_cell):
    """Intermediate validation values run outside training: the same weights as an unmonitored run."""
    calls = []

    class Count:
        every = 4

        def __call__(self, step, method):
            torch.rand(100)  # would shift every later draw if the trainer did not restore the streams
            calls.append(step)

    weights = []
    for name, monitor in (("plain", None), ("monitored", Count())):
        root = with_mixit(tmp_path / name, mixit_cell)
        request = CellRequest("surf_rm", "mnist2-mini", "smoke", 0, dict(TINY), root, "cpu", split="valid",
                              monitor=monitor)
        run_cell(request, log=lambda *_: None)
        weights.append(load_torch(resolve_cell(request).directory / "model.pt")["net"])
    assert calls == [4, 8]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def spec_for(tmp_path, **extra) -> tune.StudySpec:
    return tune.StudySpec("surf_rm", "mnist2-mini", "smoke", trials=extra.pop("trials", 4), overrides=dict(TINY),
                          out=str(tmp_path), device="cpu", prune_every=4, prune_items=16, **extra)


def test_two_workers_finish_distinct_trials_and_write_the_report(tmp_path, mixit_cell):
    with_mixit(tmp_path, mixit_cell)
    spec = tune.check_spec(spec_for(tmp_path, trials=4))
    summary = tune.launch(spec, workers=2, log=lambda *_: None)
    study = optuna.load_study(study_name=spec.study, storage=tune.open_storage(spec))
    done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(done) == 4 and len({t.params["1-unsup.ema_decay"] for t in done}) == 4
    cells = {t.user_attrs["cell"] for t in done}
    assert len(cells) == 4 and all(Path(c).parent.name.startswith("v-") for c in cells)
    assert not any(Path(c, "metrics.json").exists() for c in cells)  # the test split is never scored
    mixit = list((tmp_path / "mnist2-mini" / "mixit").rglob("model.pt"))
    assert len(mixit) == 1  # one shared init cell, not retrained
    best = yaml.safe_load((spec.folder / "best.yaml").read_text())
    alpha = best["settings"]["surf_rm"]["unsup.ema_decay"]
    assert 1 - 3e-2 <= alpha <= 1 - 1e-4 and best["best_value"] == pytest.approx(summary["best_value"])
    assert (spec.folder / "trials.csv").is_file() and (spec.folder / "history.png").stat().st_size > 1000
    assert json.loads((spec.folder / "summary.json").read_text())["trials"]["complete"] >= 1
    for trial in done:
        if trial.state == optuna.trial.TrialState.PRUNED:
            assert Path(trial.user_attrs["cell"], "pruned.json").is_file()
    # Resuming with other settings under the same name is refused; the same settings run nothing new.
    with pytest.raises(UsageError, match="already exists with other settings"):
        tune.launch(tune.check_spec(spec_for(tmp_path, trials=4, objective="unsupervised", study=spec.study)))
    tune.launch(spec, log=lambda *_: None)
    assert len(optuna.load_study(study_name=spec.study, storage=tune.open_storage(spec)).trials) == 4


def test_a_trial_left_running_by_a_killed_worker_is_failed_and_retried(tmp_path, mixit_cell):
    with_mixit(tmp_path, mixit_cell)
    spec = tune.check_spec(spec_for(tmp_path, trials=2, pruner="none"))
    study, _ = tune.load_study(spec)
    orphan = study.ask()
    orphan.suggest_float("1-unsup.ema_decay", 1e-4, 3e-2, log=True)  # a worker died here (kill -9)
    tune.launch(spec, log=lambda *_: None)
    trials = optuna.load_study(study_name=spec.study, storage=tune.open_storage(spec)).trials
    states = [t.state for t in trials]
    assert states[0] == optuna.trial.TrialState.FAIL
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2  # the failed one gave its budget back
    retried = [t for t in trials[1:] if t.params == trials[0].params]
    assert retried and retried[0].state == optuna.trial.TrialState.COMPLETE


def test_cli_tune_errors_are_one_line(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "surf_bench.cli", "tune", *args, "--out", str(tmp_path)],
                              capture_output=True, text=True, timeout=120)

    result = run("-m", "surf_rm", "-d", "mnist2-mini", "--objective", "best")
    assert result.returncode == 2 and "--objective 'best': valid: oracle, unsupervised" in result.stderr
    result = run("-m", "surf_rm", "-d", "mnist2-mini", "--param", "unsup.ema=log1m:1e-4:1e-2")
    assert result.returncode == 2 and "unknown override key" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _postgres_binaries():
    found = [shutil.which(n) for n in ("initdb", "pg_ctl")]
    return None if None in found else found


@pytest.mark.skipif(_postgres_binaries() is None, reason="PostgreSQL server binaries (initdb, pg_ctl) not installed")
def test_two_workers_on_a_postgresql_study(tmp_path, mixit_cell):
    pytest.importorskip("psycopg2")
    with_mixit(tmp_path / "res", mixit_cell)
    initdb, pg_ctl = _postgres_binaries()
    import tempfile

    server = Path(tempfile.mkdtemp(prefix="surf-bench-pg-"))  # outside pytest's root-only tmp tree
    data, sock = server / "pg", server / "sock"
    sock.mkdir()
    prefix = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        prefix = ["runuser", "-u", "postgres", "--"]
        os.chmod(server, 0o777)
        os.chmod(sock, 0o777)
    subprocess.run([*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True,
                   capture_output=True, timeout=120)
    port = 54000 + os.getpid() % 1000
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-w", "-l", str(server / "pg.log"), "-o",
                    f"-k {sock} -p {port} -c listen_addresses=''", "start"], check=True, capture_output=True,
                   timeout=120)
    try:
        import psycopg2

        admin = psycopg2.connect(host=str(sock), port=port, user="postgres", dbname="postgres")
        admin.autocommit = True
        admin.cursor().execute("CREATE DATABASE optuna")
        admin.close()
        url = f"postgresql+psycopg2://postgres@/optuna?host={sock}&port={port}"
        spec = tune.check_spec(spec_for(tmp_path / "res", trials=4, storage=url))
        tune.launch(spec, workers=2, log=lambda *_: None)
        study = optuna.load_study(study_name=spec.study, storage=url)
        finished = [t for t in study.trials if t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL]
        assert len(finished) == 4 and len({t.params["1-unsup.ema_decay"] for t in finished}) == 4
        logs = " ".join((spec.folder / f"worker{i}.log").read_text() for i in (0, 1))
        assert "[worker 0" in logs and "[worker 1" in logs  # both workers ran trials
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(server, ignore_errors=True)
