"""Reliability: resumable and deterministic training, atomic results, the cell lock, the NaN
guard, and provenance. Tiny cells on a 160-image IDX copy of mnist2 (random pixels), one thread.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from surf_bench import cli, files, registry
from surf_bench.data.idx import write_idx
from surf_bench.errors import SurfBenchError

TINY = ["--preset", "smoke", "--device", "cpu", "--set", "train.steps=4", "--set", "net.channels=4",
        "--set", "net.time_dim=8", "--set", "train.batch_size=4", "--set", "eval.n_items=8",
        "--set", "eval.batch_size=8", "--set", "eval.bootstrap=20", "--set", "train.threads=1"]


# --- helpers shared with test_bad_inputs.py ---------------------------------------------------
def make_mnist_root(root: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    """The four MNIST IDX files with random sparse 28x28 digits-like images."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte", (rng.random((n, 28, 28)) ** 4 * 255).astype(np.uint8))
        write_idx(root / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8))
    return root


def make_fuss_root(root: Path, seconds: int = 10, rate: int = 16000) -> Path:
    """FUSS's layout (ssdata/<split>_example_list.txt + WAVs), one 2-source example per split."""
    folder = Path(root) / "ssdata"
    rng = np.random.default_rng(0)
    lists = {"train": "train", "validation": "validation", "eval": "eval"}
    for split, name in lists.items():
        base = f"{split}/example00000"
        sources = [f"{base}_sources/background0_sound.wav", f"{base}_sources/foreground0_sound.wav"]
        signals = [np.round(0.05 * rng.standard_normal(seconds * rate), 4) for _ in sources]
        for path, x in [(f"{base}.wav", sum(signals)), *zip(sources, signals)]:
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(folder / path), x.astype(np.float32), rate, subtype="PCM_16")
        (folder / f"{name}_example_list.txt").write_text("\t".join([f"{base}.wav", *sources]) + "\n")
    return Path(root)


def cli_main(argv: list[str]) -> tuple[int, str]:
    """Run the CLI in this process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            cli.main(list(argv))
        except SystemExit as exc:
            return (exc.code if isinstance(exc.code, int) else 1), err.getvalue()
    return 0, err.getvalue()


def one_line(stderr: str) -> str:
    """The single ``error: ...`` line of a failed command (nothing else, no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def error_line(stderr: str) -> str:
    """The ``error: ...`` line of a command that failed after printing progress lines."""
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and stderr.rstrip().endswith(errors[0]) and "Traceback" not in stderr, stderr
    return errors[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_mnist_root(tmp_path_factory.mktemp("mnist"))


def set_options(argv) -> dict:
    """The ``--set key=value`` options of a command line, as the CLI reads them."""
    return {argv[i + 1].split("=", 1)[0]: argv[i + 1].split("=", 1)[1]
            for i in range(len(argv) - 1) if argv[i] == "--set"}


def cell(out: Path, method: str = "pit", seed: int = 0, *extra: str) -> Path:
    """The folder of a tiny mnist2 cell run with TINY and the ``extra`` options."""
    from surf_bench.engine.runner import CellRequest, resolve_cell

    request = CellRequest(method, "mnist2", "smoke", seed, set_options([*TINY, *extra]), Path(out))
    return resolve_cell(request).directory


def init_cell(out: Path, method: str = "remixit", seed: int = 0, *extra: str) -> Path:
    """The folder of the init (mixit) cell that a tiny ``method`` cell starts from."""
    from surf_bench.engine.cells import inherited_overrides
    from surf_bench.engine.runner import CellRequest, resolve_cell

    overrides = inherited_overrides(set_options([*TINY, *extra]))
    return resolve_cell(CellRequest("mixit", "mnist2", "smoke", seed, overrides, Path(out))).directory


def run_args(method: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "-m", method, "-d", "mnist2", "--data-root", str(data), "--out", str(out), *TINY, *extra]


# --- resume and determinism -------------------------------------------------------------------
def test_sigkill_then_resume_gives_exactly_the_uninterrupted_metrics(data, tmp_path):
    """remixit (started from its mixit cell; EMA teacher, remixing noise, dynamic train pairs): a run
    killed with SIGKILL after its step-10 checkpoint, then re-run (now also checkpointing by time,
    every step), ends with the metrics, rows, losses and weights of an uninterrupted run that never
    checkpointed."""
    common = ["--set", "train.steps=40", "--set", "train.log_every=5"]
    reference = tmp_path / "reference"
    code, err = cli_main(run_args("remixit", data, reference, *common, "--set", "train.checkpoint_every=0",
                                  "--set", "train.checkpoint_minutes=0"))
    assert code == 0, err

    out = tmp_path / "killed"
    target = cell(out, "remixit", 0, *common)
    argv = run_args("remixit", data, out, *common, "--set", "train.checkpoint_every=10")
    log = tmp_path / "killed.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "surf_bench.cli", *argv], stdout=subprocess.DEVNULL,
                                   stderr=stderr, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 240
    while not (target / "checkpoint.pt").exists():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no checkpoint after 240 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGSTOP)  # paused mid-training, still holding the cell's lock
    try:
        # A second process on the same cell is refused with one line.
        code, err = cli_main([*argv, "--force"])
        assert code == 1 and "another process is running this cell" in one_line(err)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (target / "metrics.json").exists()
    killed_at = torch.load(target / "checkpoint.pt", weights_only=True)["step"]
    assert 10 <= killed_at < 40

    code, err = cli_main([*argv, "--set", "train.checkpoint_minutes=1e-9"])
    assert code == 0, err
    assert f"resumed from {target / 'checkpoint.pt'} at step {killed_at}" in err
    reference_cell = cell(reference, "remixit", 0, *common)
    assert reference_cell.parent.name == target.parent.name  # checkpointing is runtime-only: same variant
    a = json.loads((reference_cell / "metrics.json").read_text())
    b = json.loads((target / "metrics.json").read_text())
    for key in ("metrics", "baseline", "n_items"):
        assert json.dumps(a[key]) == json.dumps(b[key])  # exact (and NaN-safe) equality
    assert b["provenance"]["resumed"] and b["provenance"]["resumed_from_step"] == killed_at
    assert b["provenance"]["init_checkpoint"] == str(init_cell(out, "remixit", 0, *common) / "model.pt")  # kept
    assert b["provenance"]["init_checkpoint_sha256"] == files.file_sha256(init_cell(out) / "model.pt")
    assert not a["provenance"]["resumed"]
    assert (reference_cell / "items.csv").read_bytes() == (target / "items.csv").read_bytes()
    losses = [[line.split(",")[:3] for line in (c / "train_log.csv").read_text().splitlines()]
              for c in (reference_cell, target)]
    assert losses[0] == losses[1] and len(losses[0]) == 1 + 40 // 5
    nets = [torch.load(c / "model.pt", weights_only=True)["net"]
            for c in (reference_cell, target)]
    assert all(torch.equal(nets[0][k], nets[1][k]) for k in nets[0])
    assert not (target / "checkpoint.pt").exists() and not list(target.glob(".*.tmp"))


@pytest.mark.parametrize("sync_every", [1, 2])
def test_sigterm_checkpoints_at_the_step_boundary_and_the_rerun_resumes_exactly(data, tmp_path, monkeypatch,
                                                                                  sync_every):
    steps = ["--set", "train.steps=8", "--set", "train.checkpoint_every=0",
             "--set", "train.checkpoint_minutes=0", "--set", f"train.sync_every={sync_every}"]
    code, err = cli_main(run_args("pit", data, tmp_path / "reference", *steps))
    assert code == 0, err
    pit = registry.get_method("pit")
    original = pit.training_loss
    calls = []

    def loss_then_sigterm(self, batch):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # e.g. a scheduler's pre-emption notice
        return original(self, batch)

    with monkeypatch.context() as patch:
        patch.setattr(pit, "training_loss", loss_then_sigterm)
        code, err = cli_main(run_args("pit", data, tmp_path / "stopped", *steps))
    checkpoint = cell(tmp_path / "stopped", "pit", 0, *steps) / "checkpoint.pt"
    assert code == 130
    assert f"stopped by SIGTERM at step 3 of 8; the state is saved in {checkpoint}" in one_line(err)
    assert torch.load(checkpoint, weights_only=True)["step"] == 3
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored
    code, err = cli_main(run_args("pit", data, tmp_path / "stopped", *steps))
    assert code == 0 and "at step 3" in err
    a, b = (json.loads((cell(tmp_path / n, "pit", 0, *steps) / "metrics.json").read_text())
            for n in ("reference", "stopped"))
    assert json.dumps(a["metrics"]) == json.dumps(b["metrics"])


def test_deferred_loss_checks_train_exactly_the_same_cell(data, tmp_path):
    """train.sync_every only moves the host reads: the same losses, weights and scores."""
    for name, every in (("each", "1"), ("deferred", "3")):
        code, err = cli_main(run_args("surf_rm", data, tmp_path / name, "--set", f"train.sync_every={every}"))
        assert code == 0, err
    a, b = (cell(tmp_path / n, "surf_rm") for n in ("each", "deferred"))
    def losses(folder):
        return [line.split(",")[:3] for line in (folder / "train_log.csv").read_text().splitlines()]  # no seconds

    assert losses(a) == losses(b)
    assert json.dumps(json.loads((a / "metrics.json").read_text())["metrics"]) == \
        json.dumps(json.loads((b / "metrics.json").read_text())["metrics"])


@pytest.mark.parametrize("sync_every, bad_step, kept", [
    (1, 7, "the last good checkpoint (step 5) is kept at {checkpoint}"),
    (4, 7, "the last good checkpoint (step 5) is kept at {checkpoint}"),  # deferred: read at step 8
    (8, 4, "no checkpoint had been written yet"),  # deferred: the save at step 5 reads it first
])
def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(data, tmp_path, monkeypatch, sync_every,
                                                                            bad_step, kept):
    """Also with the check deferred (train.sync_every): a diverged state is never saved."""
    pit = registry.get_method("pit")
    original = pit.training_loss
    calls = []

    def loss_turning_nan(self, batch):
        calls.append(1)
        loss = original(self, batch)
        return loss * float("nan") if len(calls) == bad_step else loss

    monkeypatch.setattr(pit, "training_loss", loss_turning_nan)
    code, err = cli_main(run_args("pit", data, tmp_path, "--set", "train.steps=10",
                                  "--set", f"train.sync_every={sync_every}", "--set", "train.checkpoint_every=5",
                                  "--set", "train.checkpoint_minutes=0"))
    line = one_line(err)
    assert code == 1
    checkpoint = cell(tmp_path, "pit", 0, "--set", "train.steps=10") / "checkpoint.pt"
    assert (f"training diverged: the loss is nan at step {bad_step} of 10; stopped, "
            + kept.format(checkpoint=checkpoint)) in line
    if bad_step > 5:
        assert torch.load(checkpoint, weights_only=True)["step"] == 5
    else:
        assert not checkpoint.exists()
    assert not (checkpoint.parent / "metrics.json").exists()


def test_force_replaces_results_only_once_the_new_run_has_succeeded(data, tmp_path, monkeypatch):
    named = ["--variant", "tiny"]
    code, err = cli_main(run_args("pit", data, tmp_path, *named))
    assert code == 0, err
    folder = tmp_path / "mnist2" / "pit" / "smoke" / "tiny" / "seed0"
    metrics = folder / "metrics.json"
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}
    assert set(before) == {"metrics.json", "items.csv", "model.pt", "train_log.csv"}

    code, err = cli_main(run_args("pit", data, tmp_path, *named))  # finished: reused, not re-run
    assert code == 0 and "cell already finished" in err and metrics.read_bytes() == before["metrics.json"]
    # Scoring on the validation split trains nothing and leaves the test score as it was.
    code, err = cli_main(run_args("pit", data, tmp_path, *named, "--split", "valid"))
    assert code == 0 and "step " not in err, err
    valid = json.loads((folder / "metrics.valid.json").read_text())
    assert valid["split"] == "valid" and "valid_manifest_hash" in valid["provenance"]
    assert math.isfinite(valid["unsupervised"]["remix_error_db"])  # the criterion from mixtures alone
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    before["metrics.valid.json"] = (folder / "metrics.valid.json").read_bytes()

    from surf_bench.engine import runner

    def broken_evaluate(*args, **kwargs):
        raise RuntimeError("simulated crash during evaluation")

    monkeypatch.setattr(runner, "evaluate", broken_evaluate)
    code, err = cli_main(run_args("pit", data, tmp_path, *named, "--force", "--set", "train.steps=5"))
    assert code == 1 and "simulated crash during evaluation" in error_line(err)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before}
    assert after == before  # the old results, every file, survive the failed forced run
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["step"] == 5  # trained state kept

    monkeypatch.undo()
    code, err = cli_main(run_args("pit", data, tmp_path, *named, "--force", "--set", "train.steps=5"))
    assert code == 0, err
    assert json.loads(metrics.read_text())["train"]["steps"] == 5
    assert not (folder / "checkpoint.pt").exists()
    # The validation score belonged to the replaced model: gone, not left stale.
    assert not (folder / "metrics.valid.json").exists() and not (folder / "items.valid.csv").exists()


# --- atomic writes ----------------------------------------------------------------------------
def test_a_crash_while_writing_never_leaves_a_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    files.atomic_write_json(path, {"old": True})
    old = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(files.os, "fsync", full_disk)
        with pytest.raises(SurfBenchError, match="No space left on device"):
            files.atomic_write_json(path, {"new": "x" * 100_000})
    assert path.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]

    real_replace = os.replace

    def replace_fails_on_metrics(src, dst):
        if str(dst).endswith("metrics.json"):
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(files.os, "replace", replace_fails_on_metrics)
        with pytest.raises(SurfBenchError, match="cannot write"):
            files.atomic_write_many(tmp_path, {"items.csv": b"a\n1\n", "metrics.json": b"{}"})
    assert path.read_bytes() == old  # items.csv was renamed into place, metrics.json (last) was not
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.csv", "metrics.json"]
    assert path.stat().st_mode & 0o777 == 0o666 & ~files._UMASK  # not mkstemp's 0600

    # SIGKILL in the middle of writing a large metrics.json: the old file or the new, never a part.
    script = ("import sys; from surf_bench.files import atomic_write_json\n"
              "while True: atomic_write_json(sys.argv[1], {'rows': list(range(1_000_000))})\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(path)])
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".metrics.json.*.tmp")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.002)
    process.kill()
    process.wait(timeout=60)
    content = json.loads(path.read_text())
    assert content == {"old": True} or len(content["rows"]) == 1_000_000
    files.remove_stale_temporaries(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))


# --- provenance -------------------------------------------------------------------------------
def test_provenance_of_a_cell_started_from_the_mixit_cell(data, tmp_path):
    code, err = cli_main(run_args("remixit", data, tmp_path))  # trains the mixit cell first
    assert code == 0, err
    assert "remixit starts from the mixit cell; training it first" in err
    info = json.loads((cell(tmp_path, "remixit") / "metrics.json").read_text())
    assert info["train"]["train_mixtures"] == 54  # 108 training images (12 go to valid), disjoint pairs
    prov = info["provenance"]
    for key in ("config_hash", "config", "code", "packages", "device", "threads", "seed", "wall_seconds",
                "train_seconds", "eval_seconds", "resumed", "init_checkpoint", "init_checkpoint_sha256",
                "test_manifest_hash", "deterministic", "train_mixtures"):
        assert key in prov, key
    assert len(prov["config_hash"]) == 12 and prov["seed"] == info["seed"] == 0
    assert set(prov["code"]) >= {"version", "git_commit", "git_dirty"}
    assert prov["packages"]["torch"] == torch.__version__ and prov["packages"]["python"]
    assert prov["device"].startswith("cpu") and prov["deterministic"] is True
    assert prov["wall_seconds"] > 0 and prov["resumed"] is False
    mixit_model = init_cell(tmp_path) / "model.pt"
    assert prov["init_checkpoint"] == str(mixit_model)
    assert prov["init_checkpoint_sha256"] == files.file_sha256(mixit_model)
    mixit = torch.load(mixit_model, weights_only=True)
    assert prov["init_config_hash"] == mixit["config_hash"] and mixit["training"]["init"] is None
    # The init cell is trained, never scored: no test figure is computed on the way.
    assert not list(init_cell(tmp_path).glob("metrics*.json"))


def test_a_weights_average_cell_saves_and_scores_the_average(data, tmp_path):
    """train.weights_ema: the model.pt of the cell is the Polyak average, not the last student."""
    for extra in ([], ["--set", "train.weights_ema=0.5"]):
        code, err = cli_main(run_args("pit", data, tmp_path, *extra))
        assert code == 0, err
    plain = torch.load(cell(tmp_path) / "model.pt", weights_only=True)["net"]
    averaged_cell = cell(tmp_path, "pit", 0, "--set", "train.weights_ema=0.5")
    averaged = torch.load(averaged_cell / "model.pt", weights_only=True)
    assert averaged["config"]["train"]["weights_ema"] == 0.5
    assert any(not torch.equal(plain[k], averaged["net"][k]) for k in plain)
    assert json.loads((averaged_cell / "metrics.json").read_text())["metrics"]


@pytest.mark.parametrize("setting", ["train.precision=bf16", "train.compile=true"])
def test_bf16_autocast_and_compile_train_a_cell_that_scores_like_fp32(data, tmp_path, setting):
    """The CUDA speed options run on CPU too: the same cell trains and scores close to plain fp32.
    (One U-Net level: inductor's cold C++ build of the kernels is most of this test's time.)"""
    shallow = ["--set", "net.levels=1"]
    for extra in (shallow, [*shallow, "--set", setting]):
        code, err = cli_main(run_args("pit", data, tmp_path, *extra))
        assert code == 0, err
    plain = json.loads((cell(tmp_path, "pit", 0, *shallow) / "metrics.json").read_text())
    other = json.loads((cell(tmp_path, "pit", 0, *shallow, "--set", setting) / "metrics.json").read_text())
    key, _, value = setting.partition("=")
    section, name = key.split(".")
    assert str(other["provenance"]["config"][section][name]).lower() == value
    assert other["metrics"]["psnr"] == pytest.approx(plain["metrics"]["psnr"], abs=0.5)
    assert other["metrics"]["psnr"] != plain["metrics"]["psnr"] or setting.startswith("train.compile")


def test_log_lines_carry_an_eta_without_control_characters():
    from surf_bench.engine.train import format_eta

    assert [format_eta(s) for s in (0.4, 40, 65, 3600 + 125)] == ["0s", "40s", "1m05s", "1h02m"]
