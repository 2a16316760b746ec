"""Every bad input gives ONE line on stderr (``error: ...``, no traceback), a non-zero exit code
(2 usage, 1 the others), and leaves finished results untouched.

One module fixture trains two tiny finished cells (pit and mixit on a 160-image IDX copy of
mnist2) and keeps a diverged cell's last good checkpoint; each case then runs the CLI in-process
on its own copy of that results folder, optionally after breaking a file, and checks the bytes
of both finished metrics.json files afterwards. A few cases also run as real subprocesses.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from filelock import FileLock

from surf_bench.engine.cells import inherited_overrides
from tests.engine.test_reliability import (
    TINY,
    cell,
    cli_main,
    init_cell,
    make_fuss_root,
    make_mnist_root,
    one_line,
    set_options,
)

# Folders relative to a results root: the tiny pit cell, the mixit cell that tiny remixers start
# from, and a diverged pit cell (a named variant) that kept its last good checkpoint.
CELL = cell(Path(""), "pit")
MIXIT = init_cell(Path(""))
DIVERGED = Path("mnist2") / "pit" / "smoke" / "diverged" / "seed7"
# The mixit cell is trained with exactly the options a tiny remixer hands on (plus scoring ones).
MIXIT_RUN = ["--preset", "smoke", "--device", "cpu",
             *[a for k, v in inherited_overrides(set_options(TINY)).items() for a in ("--set", f"{k}={v}")],
             *[a for k, v in set_options(TINY).items() if k.startswith("eval.") for a in ("--set", f"{k}={v}")]]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    data = make_mnist_root(root / "mnist")
    out = root / "results"
    for method, options in (("pit", TINY), ("mixit", MIXIT_RUN)):
        code, err = cli_main(["run", "-m", method, "-d", "mnist2", "--data-root", str(data), "--out",
                              str(out), *options])
        assert code == 0, err
    assert (out / MIXIT / "metrics.json").exists()
    # A run that diverges at step 2 keeps its last good checkpoint (step 1, written with lr=1e30).
    code, err = cli_main(["run", "-m", "pit", "-d", "mnist2", "--data-root", str(data), "--out", str(out),
                          "--seed", "7", *TINY, "--set", "train.lr=1e30", "--variant", "diverged",
                          "--set", "train.checkpoint_every=1"])
    assert code == 1 and "training diverged" in err, err
    state = torch.load(out / DIVERGED / "checkpoint.pt", weights_only=True)
    assert state["step"] == 1
    assert not (out / DIVERGED / "metrics.json").exists()
    return SimpleNamespace(root=root, data=data, out=out, fuss=make_fuss_root(root / "fuss"))


# --- ways to break things (each gets the case's context) --------------------------------------
def copy_root(ctx, source: Path, name: str) -> Path:
    target = ctx.tmp / name
    shutil.copytree(source, target)
    return target


def mnist(mutate=None):
    def setup(ctx):
        ctx.data = copy_root(ctx, ctx.base.data, "mnist")
        if mutate:
            mutate(ctx.data)
    return setup


def fuss(mutate):
    def setup(ctx):
        ctx.fuss = copy_root(ctx, ctx.base.fuss, "fuss")
        mutate(ctx.fuss / "ssdata")
    return setup


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def corrupt_gzip(root: Path) -> None:
    path = root / "t10k-images-idx3-ubyte"
    body = gzip.compress(path.read_bytes())
    path.unlink()
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(body[: len(body) // 3])


def fewer_labels(root: Path) -> None:
    from surf_bench.data.idx import read_idx, write_idx

    labels = read_idx(root / "t10k-labels-idx1-ubyte")
    write_idx(root / "t10k-labels-idx1-ubyte", labels[:-3])


def wrong_image_size(root: Path) -> None:
    from surf_bench.data.idx import write_idx

    write_idx(root / "t10k-images-idx3-ubyte", torch.zeros(40, 32, 32, dtype=torch.uint8).numpy())


def write_wav(path: Path, seconds: float, rate: int) -> None:
    import numpy as np
    import soundfile as sf

    sf.write(str(path), np.zeros(int(seconds * rate), dtype=np.float32), rate, subtype="PCM_16")


FG = "eval/example00000_sources/foreground0_sound.wav"


def five_sources(folder: Path) -> None:
    line = (folder / "eval_example_list.txt").read_text().rstrip("\n")
    (folder / "eval_example_list.txt").write_text(line + ("\t" + FG) * 3 + "\n")


def mixit_model(mutate):
    def setup(ctx):
        mutate(ctx.out / MIXIT / "model.pt")
    return setup


def other_dataset(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["dataset"] = "cifar2"
    torch.save(state, path)


def hold_lock(ctx):
    lock = FileLock(str(ctx.out / CELL / ".lock"))
    lock.acquire()
    ctx.cleanup.append(lock.release)


def other_network(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["config"]["net"]["channels"] = 6
    torch.save(state, path)


def stale_settings(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["config"]["train"]["lr"] = 0.123  # as if the mixit defaults had changed since it was trained
    torch.save(state, path)


def a_file_as_root(ctx):
    (ctx.tmp / "root.txt").write_text("not a folder\n")


def old_layout(ctx):
    folder = ctx.out / "mnist2" / "pit" / "smoke" / "seed0"
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"a model of the old layout")


def garbage_checkpoint(ctx):
    directory = (ctx.out / CELL).parent.parent / "garbage" / "seed5"
    directory.mkdir(parents=True)
    (directory / "checkpoint.pt").write_bytes(b"not a checkpoint\n" * 50)


def unwritable_out(ctx):
    (ctx.tmp / "a_file").write_text("a file, not a folder\n")
    ctx.out = ctx.tmp / "a_file" / "results"


T = "{tiny}"  # the tiny options, --data-root (mnist2 copy) and --out (this case's copy of the results)
PIT = ["run", "-m", "pit", "-d", "mnist2", T]
PIT3 = [*PIT, "--seed", "3"]  # a cell that is not finished, so its data are read
REMIXIT = ["run", "-m", "remixit", "-d", "mnist2", T]
FUSS = ["run", "-m", "pit", "-d", "fuss4", "--preset", "smoke", "--device", "cpu", "--data-root", "{fuss}",
        "--out", "{out}"]
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
IDX = "t10k-images-idx3-ubyte"


def case(name, argv, code, fragment, setup=None, marks=()):
    return pytest.param(argv, code, fragment, setup, id=name, marks=marks)


CASES = [  # name, argv, exit code, a fragment of the one line, setup (breaks something first)
    case("unknown-method", ["run", "-m", "surf_sx", "-d", "mnist2", T], 2, "unknown method 'surf_sx'"),
    case("unknown-dataset", ["run", "-m", "pit", "-d", "mnist-2", T], 2, "unknown dataset 'mnist-2'"),
    case("unknown-preset", [*PIT, "--preset", "huge"], 2, "unknown preset 'huge'"),
    case("unknown-override-key", [*PIT, "--set", "train.step=3"], 2, "Did you mean 'train.steps'"),
    case("unknown-override-section", [*PIT, "--set", "optim.lr=3"], 2, "unknown override key 'optim.lr'"),
    case("wrong-type-int", [*PIT, "--set", "train.steps=abc"], 2, "expected int"),
    case("wrong-type-bool", [*PIT, "--set", "unsup.mixit_init=maybe"], 2, "expected bool"),
    case("override-without-value", [*PIT, "--set", "trainsteps"], 2, "--set expects key=value"),
    case("invalid-choice", [*PIT, "--set", "flow.sampler=rk4"], 2, "flow.sampler='rk4' is not valid"),
    case("out-of-range", [*PIT, "--set", "train.batch_size=1"], 2, "train.batch_size must be >= 2"),
    case("seed-not-an-int", [*PIT, "--seed", "abc"], 2, "Invalid value for '--seed'"),
    case("missing-option", ["run", "-d", "mnist2", T], 2, "run needs --method and --dataset, or --cell I"),
    case("negative-seed", [*PIT, "--seed", "-1"], 2, "--seed -1: seeds are whole numbers >= 0"),
    case("unknown-split", [*PIT, "--split", "train"], 2, "unknown split 'train'. Valid: test, valid"),
    case("bad-variant-name", [*PIT, "--variant", "../x"], 2, "--variant '../x': use 1-64 letters"),
    case("dynamic-mixing-unsupervised", [*REMIXIT, "--set", "data.dynamic_mixing=true"], 2,
         "which the unsupervised method 'remixit' cannot have"),
    case("dynamic-mixing-fixed-dataset", [*FUSS, "--set", "data.dynamic_mixing=true"], 2,
         "dataset 'fuss4' has fixed training mixtures only"),
    case("data-root-is-a-file", [*PIT3, "--data-root", "{tmp}/root.txt"], 2, "root.txt is a file; give the folder",
         a_file_as_root),
    case("old-layout", PIT, 2, "uses the layout from before variants; move it into a variant folder", old_layout),
    case("cell-without-params", ["run", "--cell", "0"], 2, "--cell needs --params FILE"),
    case("params-missing", ["run", "--cell", "0", "--params", "{tmp}/nope.yaml"], 2, "cannot read params file"),
    case("unknown-option", [*PIT, "--frobnicate"], 2, "No such option: --frobnicate"),
    case("missing-dataset-root", [*PIT3, "--data-root", "{tmp}/nowhere"], 1, "does not exist"),
    case("missing-idx-file", PIT3, 1, f"no {IDX}[.gz]", mnist(lambda r: (r / IDX).unlink())),
    case("truncated-idx", PIT3, 1, "(truncated or corrupt)", mnist(lambda r: truncate(r / IDX))),
    case("corrupt-gzip-idx", PIT3, 1, "corrupt or truncated gzip", mnist(corrupt_gzip)),
    case("mismatched-labels", PIT3, 1, "40 t10k images but 37 labels", mnist(fewer_labels)),
    case("mismatched-image-shape", PIT3, 1, "must be uint8 [N, 28, 28]", mnist(wrong_image_size)),
    case("empty-split", FUSS, 1, "empty split", fuss(lambda f: (f / "eval_example_list.txt").write_text(""))),
    case("corrupt-audio", FUSS, 1, "not a readable audio file",
         fuss(lambda f: (f / FG).write_bytes(b"RIFF garbage" * 100))),
    case("truncated-audio", FUSS, 1, "(truncated file?)", fuss(lambda f: truncate(f / FG))),
    case("wrong-sample-rate", FUSS, 1, "sample rate 8000 Hz, expected 16000",
         fuss(lambda f: write_wav(f / FG, 10, 8000))),
    case("too-many-sources", FUSS, 1, "5 sources, FUSS has 1 to 4", fuss(five_sources)),
    case("unwritable-output", PIT, 1, "is not writable", unwritable_out),
    case("cuda-without-gpu", [*PIT, "--device", "cuda"], 2, "torch sees no CUDA GPU", marks=NO_GPU),
    case("unknown-device", [*PIT, "--device", "tpu"], 2, "unknown device 'tpu'"),
    case("finished-cell-other-settings", [*PIT, "--set", "eval.n_items=4"], 2,
         "already finished with other settings (eval.n_items: 8 -> 4)"),
    case("mixit-checkpoint-missing", REMIXIT, 1, "which is missing although that cell is finished",
         mixit_model(lambda p: p.unlink())),
    case("mixit-checkpoint-corrupt", REMIXIT, 1, "is unreadable (not a PyTorch file (1000 bytes",
         mixit_model(lambda p: p.write_bytes(b"\0" * 1000))),
    case("mixit-checkpoint-truncated", REMIXIT, 1, "is unreadable (truncated (", mixit_model(truncate)),
    case("mixit-checkpoint-other-dataset", REMIXIT, 1, "was trained on 'cifar2', not 'mnist2'",
         mixit_model(other_dataset)),
    case("mixit-checkpoint-other-network", REMIXIT, 1, "trained with another network (net.channels: 6 -> 4)",
         mixit_model(other_network)),
    case("mixit-cell-stale", REMIXIT, 1, "was trained with other settings than its variant has now (train.lr: 0.123",
         mixit_model(stale_settings)),
    case("corrupt-checkpoint", [*PIT, "--seed", "5", "--variant", "garbage"], 1, "is unreadable (not a PyTorch file",
         garbage_checkpoint),
    case("truncated-checkpoint", [*PIT, "--seed", "7", "--set", "train.lr=1e30", "--variant", "diverged"], 1,
         "is unreadable (truncated (", lambda ctx: truncate(ctx.out / DIVERGED / "checkpoint.pt")),
    case("checkpoint-other-settings", [*PIT, "--seed", "7", "--variant", "diverged"], 1,
         "was written with other settings (train.lr: 1e+30 -> "),
    case("nan-loss-forced-rerun", [*PIT, "--force", "--variant", CELL.parent.name, "--set", "train.lr=1e30"], 1,
         "training diverged: the loss is"),
    case("busy-cell", [*PIT, "--force"], 1, "another process is running this cell", hold_lock),
]


def _expand(argv, ctx):
    out = []
    for arg in argv:
        if arg == T:
            out += [*TINY, "--data-root", str(ctx.data), "--out", str(ctx.out)]
        else:
            out.append(arg.format(data=ctx.data, fuss=ctx.fuss, out=ctx.out, tmp=ctx.tmp))
    return out


def _snapshot(out: Path) -> dict:
    return {path: path.read_bytes() for path in sorted(out.rglob("metrics.json"))}


@pytest.mark.parametrize("argv, code, fragment, setup", CASES)
def test_bad_input_gives_one_line_and_keeps_results(base, tmp_path, request, argv, code, fragment, setup):
    ctx = SimpleNamespace(base=base, tmp=tmp_path, out=tmp_path / "results", data=base.data, fuss=base.fuss,
                          cleanup=[])
    shutil.copytree(base.out, ctx.out)
    finished = _snapshot(ctx.out)
    assert len(finished) == 2
    if setup:
        setup(ctx)
    try:
        exit_code, err = cli_main(_expand(argv, ctx))
    finally:
        for release in ctx.cleanup:
            release()
    line = one_line(err)
    _log_message(request.node.callspec.id, exit_code, line, tmp_path)
    assert exit_code == code, err
    assert fragment in line, line
    assert _snapshot(tmp_path / "results") == finished  # finished results untouched, byte for byte
    results = tmp_path / "results"
    if results.is_dir():  # a failed run leaves no cell folder holding only its lock
        lock_only = [p for p in results.rglob("seed*") if p.is_dir() and {c.name for c in p.iterdir()} <= {".lock"}]
        assert not lock_only, lock_only


def _log_message(name: str, exit_code: int, line: str, tmp_path: Path) -> None:
    """With $SURF_BENCH_BAD_INPUT_LOG set, append `name | exit code | message` (paths shortened)."""
    target = os.environ.get("SURF_BENCH_BAD_INPUT_LOG")
    if target:
        with open(target, "a") as log:
            log.write(f"| {name} | {exit_code} | `{line.replace(str(tmp_path), '<tmp>')}` |\n")


def test_subprocess_errors_are_one_line_and_debug_shows_the_traceback(base, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SURF_BENCH_DEBUG", None)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "surf_bench.cli", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    run = ["run", "-m", "pit", "-d", "mnist2", *TINY]
    result = cli(*run, "--set", "train.steps=x")
    assert result.returncode == 2 and "expected int" in one_line(result.stderr)
    result = cli(*run, "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "DataError" in result.stderr and "does not exist" in result.stderr


BROKEN_PLUGIN = '''
from surf_bench.data.base import DatasetAdapter


class Broken(DatasetAdapter):
    name = "broken-images"
    modality = "image"
    n_slots = 2
    description = "test-only plugin whose reader fails like a buggy or unlucky adapter"

    def open(self, split, root=None, seed=0):
        raise ValueError("bad header in shard 3")


DATASET = Broken()
'''


def test_plugin_failures_and_unexpected_errors_are_one_line(base, tmp_path, monkeypatch):
    from surf_bench import registry
    from surf_bench.engine import runner

    plugins = tmp_path / "plugins"
    (plugins / "datasets").mkdir(parents=True)
    (plugins / "datasets" / "broken_images.py").write_text(BROKEN_PLUGIN)
    monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(plugins))
    registry.datasets.cache_clear()
    try:
        code, err = cli_main(["run", "-m", "pit", "-d", "broken-images", *TINY, "--out",
                              str(tmp_path / "out"), "--data-root", str(tmp_path)])
    finally:
        monkeypatch.delenv("SURF_BENCH_PLUGIN_PATH")
        registry.datasets.cache_clear()
    assert code == 1
    assert ("broken-images/train: the files under" in one_line(err)
            and "could not be read (ValueError: bad header in shard 3)" in one_line(err))

    def bug(*args, **kwargs):
        raise KeyError("provenance")

    monkeypatch.setattr(runner, "code_version", bug)  # a bug after training: one line, exit 1
    out = tmp_path / "results"
    code, err = cli_main(["run", "-m", "pit", "-d", "mnist2", *TINY, "--data-root", str(base.data),
                          "--out", str(out)])
    assert code == 1 and "Traceback" not in err
    assert "unexpected KeyError: 'provenance'. This is a bug" in err.splitlines()[-1]
    assert not (out / CELL / "metrics.json").exists()
