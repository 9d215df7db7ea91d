"""The parallel evaluators survive workers that die: a death costs only the task that was on that
worker an attempt, and a task that kills every worker it meets is failed after a bounded number of
retries; the other tasks in flight are never charged."""

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import require_ray

from akd.config import load_config
from akd.execution import MAX_RETRIES, Outcome, make_evaluator

HERE = Path(__file__).resolve().parent


def sleepy_work(task, config, lock):
    """Evaluator work for the fault test: writes its pid, then sleeps; "poison" kills its worker
    every time it runs."""
    name, seconds, folder = task
    (Path(folder) / f"{name}.{os.getpid()}").touch()
    if name == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(seconds)
    return Outcome("ok", 1.0, 0, 0, None, seconds)


# no_ray_left counts Ray processes machine-wide: in the Ray tests' test process (pytest-xdist)
@pytest.mark.xdist_group("ray")
@pytest.mark.parametrize("backend", ["process", "ray"])
def test_a_dead_worker_costs_only_its_own_task_an_attempt(backend, tmp_path, monkeypatch,
                                                          no_ray_left):
    if backend == "ray":
        require_ray()
    monkeypatch.setenv("PYTHONPATH", str(HERE))  # Ray workers import sleepy_work from here
    config = load_config(None, ["data.name=synthetic", "data.val_size=200", "data.proxy_size=0",
                                "search.arms=[nas]",
                                "progress=false",
                                f"cache_dir={tmp_path / 'cache'}", f"evaluator.backend={backend}",
                                "evaluator.workers=2", "evaluator.threads=1"])
    marks = tmp_path / "marks"
    marks.mkdir()
    tasks = {name: (name, seconds, str(marks))
             for name, seconds in (("a", 4.0), ("b", 4.0), ("poison", 0.0), ("c", 0.1))}
    with make_evaluator(config, sleepy_work) as evaluator:
        for task in tasks.values():
            evaluator.submit(task)
        deadline = time.monotonic() + 180  # workers start slowly on a busy 2-core host
        while not list(marks.glob("a.*")):  # "a" is running: kill its worker under it
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(int(next(marks.glob("a.*")).suffix[1:]), signal.SIGKILL)
        results = {}
        while evaluator.in_flight:
            task, outcome = evaluator.next_finished()
            assert task[0] not in results  # each task comes back exactly once
            results[task[0]] = outcome
        attempts = {name: evaluator.attempts[id(task)] for name, task in tasks.items()}
    if backend == "ray":  # the evaluator leaves the Ray instance to the program's end
        from akd.common.cluster import disconnect
        disconnect()
    assert {name: o.status for name, o in results.items()} == {
        "a": "ok", "b": "ok", "poison": "failed", "c": "ok"}
    assert f"died {MAX_RETRIES + 1} times" in results["poison"].error
    # per-task identity: b ran beside both deaths and was never charged for them
    assert attempts == {"a": 1, "b": 0, "poison": MAX_RETRIES + 1, "c": 0}
    assert len(list(marks.glob("poison.*"))) == MAX_RETRIES + 1
