"""Executors: visible job states, retries, progress from inside jobs, crash recovery."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from gauntlet.jobs import InlineExecutor, Job, JobFailed, JobState, LocalProcessExecutor, report_progress


def counting_job(n: int) -> int:
    for i in range(n):
        report_progress(i + 1, n, f"step {i + 1}")
    return n * n


def flaky_job(marker: str) -> str:
    """Fails on its first attempt, succeeds on the next (a transient fault)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError("transient fault")
    return "recovered"


def always_failing_job() -> None:
    raise RuntimeError("broken input")


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for this module's tests (small: two CPUs, a small object store)."""
    ray = pytest.importorskip("ray")
    import sys

    from ray import cloudpickle

    # Ray workers import functions by module name; this test module is not importable
    # there, so its job functions travel by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=80 * 2**20)
    yield ray
    ray.shutdown()


@pytest.fixture(params=["inline", "process", "ray"])
def executor(request, tmp_path):
    state = tmp_path / "jobs.json"
    if request.param == "inline":
        return InlineExecutor(state_path=state)
    if request.param == "ray":
        from gauntlet.jobs.ray_executor import RayExecutor

        request.getfixturevalue("ray_cluster")
        return RayExecutor(state_path=state)
    # fork so the workers can find this test module's functions; production uses spawn
    return LocalProcessExecutor(max_workers=2, mp_context="fork", state_path=state)


def test_states_progress_and_retries_are_visible(executor, tmp_path):
    seen: list[tuple[str, str]] = []
    jobs = [
        Job("square", counting_job, (3,), description="square 3"),
        Job("flaky", flaky_job, (str(tmp_path / "marker"),), retries=1),
        Job("broken", always_failing_job, retries=1),
    ]
    statuses = executor.run(jobs, progress=False, on_change=lambda s: seen.append((s.key, s.state.value)))

    assert statuses["square"].state is JobState.DONE and statuses["square"].result == 9
    assert (statuses["square"].completed, statuses["square"].total, statuses["square"].note) == (3, 3, "step 3")
    assert statuses["flaky"].state is JobState.DONE and statuses["flaky"].attempts == 2
    assert statuses["flaky"].result == "recovered"
    assert statuses["broken"].state is JobState.FAILED and statuses["broken"].attempts == 2
    assert statuses["broken"].error == "RuntimeError: broken input"

    square_states = [state for key, state in seen if key == "square"]
    assert square_states[0] == "queued" and square_states[-1] == "done"
    assert "failed" not in [state for key, state in seen if key == "flaky"]

    document = json.loads((tmp_path / "jobs.json").read_text())
    assert {j["key"]: j["state"] for j in document["jobs"]} == {"square": "done", "flaky": "done", "broken": "failed"}


def test_results_raise_one_line_naming_every_failure(executor):
    with pytest.raises(JobFailed) as info:
        executor.results([Job("ok", counting_job, (2,)), Job("bad", always_failing_job)], progress=False)
    assert str(info.value) == "1 of 2 jobs failed (bad: RuntimeError: broken input)"
    assert executor.results([Job("ok", counting_job, (2,))], progress=False) == {"ok": 4}


def test_spawned_workers_run_importable_functions_with_a_progress_board():
    executor = LocalProcessExecutor(max_workers=2)
    statuses = executor.run([Job("root", math.sqrt, (16.0,)), Job("domain", math.sqrt, (-1.0,))], progress=True)
    assert statuses["root"].result == 4.0
    assert statuses["domain"].state is JobState.FAILED and statuses["domain"].error == "ValueError: math domain error"


def test_a_worker_that_dies_is_retried_in_a_fresh_pool():
    executor = LocalProcessExecutor(max_workers=1)
    statuses = executor.run([Job("crash", os._exit, (3,), retries=1), Job("after", math.sqrt, (9.0,), retries=1)], progress=False)
    assert statuses["crash"].state is JobState.FAILED and statuses["crash"].attempts == 2
    assert statuses["crash"].error == "worker process died"
    assert statuses["after"].state is JobState.DONE and statuses["after"].result == 3.0


def test_job_keys_must_be_unique():
    from gauntlet.errors import InputError

    with pytest.raises(InputError):
        InlineExecutor().run([Job("a", math.sqrt, (1,)), Job("a", math.sqrt, (4,))], progress=False)


def test_a_ray_worker_that_dies_is_retried(ray_cluster):
    from gauntlet.jobs.ray_executor import RayExecutor

    statuses = RayExecutor().run([Job("crash", os._exit, (3,), retries=1), Job("after", math.sqrt, (9.0,))],
                                 progress=False)
    assert statuses["crash"].state is JobState.FAILED and statuses["crash"].attempts == 2
    assert statuses["crash"].error == "worker process died"
    assert statuses["after"].state is JobState.DONE and statuses["after"].result == 3.0


def test_an_unreachable_or_malformed_ray_address_is_one_line():
    """In a fresh process (this one runs a local Ray): no minutes of retries, one line."""
    import subprocess
    import sys

    pytest.importorskip("ray")
    for address, message in (("127.0.0.1:1", "cannot reach the Ray cluster at '127.0.0.1:1'"),
                             ("nowhere", "Ray address 'nowhere' is not")):
        code = ("import math; from gauntlet.jobs import Job; from gauntlet.jobs.ray_executor import RayExecutor\n"
                "from gauntlet.errors import InputError\n"
                f"try: RayExecutor({address!r}).run([Job('a', math.sqrt, (1.0,))], progress=False)\n"
                "except InputError as e: print(e)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.stdout.startswith(message), out.stdout + out.stderr
