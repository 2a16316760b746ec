"""The one job pool: at most N in flight, a job after the one it waits for, the dependants of a
failed job skipped, hooks, an interrupt that settles finished jobs and stops running ones, the
record; the GPUs a local job sees."""

import json

import pytest

from surf_bench.errors import SurfBenchError, UsageError
from surf_bench.orchestration.pool import INHERIT, Job, JobPool, make_executor, visible_gpus


class FakeHandle:
    """A submitted job that finishes after ``polls`` calls of done()."""

    def __init__(self, job_id, fn, args, polls, log):
        self.job_id, self.fn, self.args, self.polls, self.cancelled = job_id, fn, args, polls, False
        self.paths = type("Paths", (), {"stderr": f"/logs/{job_id}.err"})()
        log.append(("submit", job_id))

    def done(self):
        self.polls -= 1
        return self.polls < 0

    def result(self):
        return self.fn(*self.args)

    def cancel(self, check=True):
        self.cancelled = True


class FakeSubmitter:
    def __init__(self, polls=1):
        self.polls, self.log, self.handles = polls, [], []

    def submit(self, fn, *args):
        handle = FakeHandle(len(self.handles), fn, args, self.polls, self.log)
        self.handles.append(handle)
        return handle


def ok(name):
    return {"metrics": {"name": name}}


def broken(name):
    raise RuntimeError(f"SurfBenchError: {name} could not open its data")


def test_a_job_starts_after_the_one_it_waits_for_and_at_most_n_run_at_once(tmp_path):
    submitter = FakeSubmitter(polls=2)
    pool = JobPool(submitter, 2, tmp_path, {"params": "grid.yaml"}, log=lambda *_: None)
    order = []
    pool.on_done = lambda job, result: order.append(job.key)
    pool.add(Job("init", ok, ("init",)))
    pool.add(Job("remix", ok, ("remix",), after="init"))
    pool.add(Job("a", ok, ("a",)))
    pool.add(Job("b", ok, ("b",)))
    peak = []
    start = pool._start

    def watched():
        start()
        peak.append(len(pool.running))

    pool._start = watched
    pool.run(poll_seconds=0)
    assert max(peak) == 2 and set(order) == {"init", "remix", "a", "b"}
    assert order.index("remix") > order.index("init")
    submitted = [job_id for _, job_id in submitter.log]
    assert submitted.index(3) > 0  # remix (submitted last here) waited although a slot was free
    record = json.loads((tmp_path / "launch.json").read_text())
    assert record["params"] == "grid.yaml" and record["max_parallel"] == 2
    assert {k: v["state"] for k, v in record["cells"].items()} == dict.fromkeys(["init", "remix", "a", "b"], "done")
    assert record["cells"]["remix"]["metrics"] == {"name": "remix"}


def test_the_jobs_that_wait_for_a_failed_job_are_skipped_and_the_others_go_on(tmp_path):
    failures = []
    pool = JobPool(FakeSubmitter(), 1, tmp_path, log=lambda *_: None, on_failed=lambda job, e: failures.append(e))
    pool.add(Job("init", broken, ("init",), label="mixit@gmm2"))
    pool.add(Job("remix", ok, ("remix",), after="init"))
    pool.add(Job("later", ok, ("later",), after="remix"))
    pool.add(Job("free", ok, ("free",)))
    pool.run(poll_seconds=0)
    states = {k: v["state"] for k, v in pool.state.items()}
    assert states == {"init": "failed", "remix": "skipped", "later": "skipped", "free": "done"}
    assert failures == ["SurfBenchError: init could not open its data"]  # the job's own line
    assert pool.state["init"]["log"] == "/logs/0.err" and "mixit@gmm2" in pool.state["remix"]["error"]
    assert pool.unfinished() == {"init": "mixit@gmm2", "remix": "remix", "later": "later"}


def test_hooks_record_fields_add_jobs_and_an_error_in_on_done_leaves_the_job_unfinished(tmp_path):
    pool = JobPool(FakeSubmitter(), 2, tmp_path, log=lambda *_: None)
    pool.on_submit = lambda job: {"replaced": job.key == "a"}

    def done(job, result):
        if job.key == "a":
            pool.add(Job("opened", ok, ("opened",)))  # a stage that waited for "a"
        if job.key == "opened":
            raise SurfBenchError("the code changed during the launch")

    pool.on_done = done
    pool.add(Job("a", ok, ("a",)))
    with pytest.raises(SurfBenchError, match="code changed"):
        pool.run(poll_seconds=0)
    assert pool.state["a"]["state"] == "done" and pool.state["a"]["replaced"] is True
    record = json.loads((tmp_path / "launch.json").read_text())["cells"]
    assert record["opened"]["state"] == "finished, not settled" and "code changed" in record["opened"]["error"]


def test_stop_settles_finished_jobs_and_stops_the_running_ones(tmp_path):
    submitter = FakeSubmitter(polls=10**6)
    pool = JobPool(submitter, 2, tmp_path, log=lambda *_: None)
    pool.add(Job("finished", ok, ("finished",)))
    pool.add(Job("running", ok, ("running",)))
    pool.add(Job("waiting", ok, ("waiting",)))
    pool._start()
    submitter.handles[0].polls = 0  # the first has just finished
    settled = []
    pool.stop(settle=lambda job, result: settled.append(job.key))
    assert settled == ["finished"] and submitter.handles[1].cancelled
    record = json.loads((tmp_path / "launch.json").read_text())["cells"]
    assert {k: v["state"] for k, v in record.items()} == {"finished": "done", "running": "stopped",
                                                           "waiting": "waiting"}


def test_a_pool_needs_one_slot_at_least(tmp_path):
    with pytest.raises(UsageError, match="--max-parallel must be >= 1"):
        JobPool(FakeSubmitter(), 0, tmp_path)


@pytest.mark.parametrize(("listed", "expected"), [("", ()), ("2,3", (2, 3)), ("0", (0,))])
def test_a_local_job_sees_the_gpus_this_process_sees(tmp_path, monkeypatch, listed, expected):
    pytest.importorskip("submitit")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
    assert visible_gpus() == expected
    executor = make_executor("local", tmp_path, threads=1, gpus=INHERIT, timeout_min=5)
    assert executor.parameters["gpus_per_node"] == len(expected)
    assert tuple(executor.parameters.get("visible_gpus", ())) == expected
    hidden = make_executor("local", tmp_path, threads=1, gpus=0, timeout_min=5)
    assert hidden.parameters["gpus_per_node"] == 0  # --gpus-per-cell 0: none


def test_an_unknown_executor_is_refused_with_the_valid_ones(tmp_path):
    with pytest.raises(UsageError, match="valid: local, slurm"):
        make_executor("kubernetes", tmp_path, threads=1, gpus=0, timeout_min=5)
