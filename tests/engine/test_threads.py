import os
import subprocess
import sys
import time

import pytest
import torch

from surf_bench.engine import threads


@pytest.mark.parametrize(
    "cores, busy, expected",
    [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.9, 1), (2, 5.0, 1), (16, 3.2, 13), (1, 0.0, 1)],
)
def test_auto_threads_leaves_the_busy_cores_to_others(cores, busy, expected):
    assert threads.auto_threads(cores, busy) == expected


def test_busy_cores_reads_the_busy_share_of_proc_stat(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal: 600 of 1000 jiffies busy in the interval
    lines = ["cpu 100 0 100 700 100 0 0 0 0 0", "cpu 600 0 200 1000 200 0 0 0 0 0"]
    reads = iter(lines)
    stat.write_text(next(reads) + "\ncpu0 1 2 3 4\n")

    def sleep_then_advance(seconds):
        stat.write_text(next(reads) + "\n")

    monkeypatch.setattr(threads.time, "sleep", sleep_then_advance)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    assert threads.busy_cores(0.1, stat) == pytest.approx(4 * 600 / 1000)


def test_busy_cores_is_zero_where_proc_stat_is_missing(tmp_path):
    assert threads.busy_cores(0.0, tmp_path / "absent") == 0.0
    (tmp_path / "odd").write_text("intr 1 2 3\n")
    assert threads.busy_cores(0.0, tmp_path / "odd") == 0.0


@pytest.mark.skipif(not threads.PROC_STAT.is_file(), reason="needs Linux /proc/stat")
def test_busy_cores_sees_a_spinning_process():
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 5: pass"])
    try:
        time.sleep(0.3)
        assert threads.busy_cores(0.5) > 0.6  # one core spins (other load only adds to it)
    finally:
        spinner.kill()
        spinner.wait()


def test_set_threads_takes_an_explicit_count_and_otherwise_the_free_cores(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert threads.set_threads(1) == 1
        monkeypatch.setattr(threads, "available_cores", lambda: 2)
        monkeypatch.setattr(threads, "busy_cores", lambda: 1.0)
        assert threads.set_threads(0) == 1
        monkeypatch.setattr(threads, "busy_cores", lambda: 0.1)
        assert threads.set_threads(0) == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_importing_the_package_sets_a_passive_openmp_wait_unless_the_user_chose(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    out = subprocess.run([sys.executable, "-c", "import os, surf_bench; print(os.environ['OMP_WAIT_POLICY'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
