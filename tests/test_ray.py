"""The Ray backend: the quick preset on a Ray instance of its own gives the process pool's trials
even when a worker is killed mid-candidate, and leaves nothing of Ray running (a command ends the
instance it started); on one running cluster (``ray start --head``) that the later tests join
with address auto, as a user's cluster would be joined: latency on a dedicated worker, kill -9 of
the driver then --resume, and the cluster left up. A dead worker costing only its own task is
tested for both backends in test_evaluator.py."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import (RUN_TIMEOUT, end_processes, live_processes, needs_fashion_mnist,
                      ray_processes, require_ray, skip_or_fail)

from akd.cli import main
from akd.config import load_config
from akd.execution import make_evaluator
from akd.search.candidate import evaluate_candidate

ray = require_ray(module=True)
# one test process runs every Ray test (pytest-xdist): they start and count Ray processes
# machine-wide
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def kill_first_running_candidate(stop: threading.Event, killed: list) -> None:
    """Kill the first Ray worker seen training a candidate (its title is RayWorker.run)."""
    while not stop.is_set() and not killed:
        for pid, _, args in live_processes():
            if "ray::RayWorker.run" in args:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.2)


def read_trials(run: Path) -> list[dict]:
    """The trials in candidate order, without their wall times."""
    records = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    return sorted(({k: v for k, v in t.items() if k != "seconds"} for t in records),
                  key=lambda t: (t["arm"], t["candidate_id"]))


@pytest.mark.parametrize("address", ["auto", "127.0.0.1:1"])
def test_an_address_where_no_cluster_runs_is_a_one_line_error(address, tmp_path, capsys):
    if address == "auto" and any("raylet" in args for _, _, args in live_processes()):
        pytest.skip("a Ray cluster is running on this machine")
    assert main(["--config", "quick", "--out", str(tmp_path / "run"), "--set",
                 "data.name=synthetic", "--set", "search.arms=[nas]", "--set",
                 f"cache_dir={tmp_path}", "--set", "progress=false", "--set",
                 "evaluator.backend=ray", "--set", f"evaluator.address={address}"]) == 2
    error = capsys.readouterr().err.strip()
    assert f"evaluator.address = {address!r}: no Ray cluster answers there" in error
    assert len(error.splitlines()) == 1


def test_a_latency_worker_that_cannot_get_a_cpu_is_refused(tmp_path):
    config = load_config(None, ["evaluator.backend=ray", "evaluator.workers=2",
                                f"evaluator.threads={os.cpu_count()}", "latency.where=worker",
                                "data.name=synthetic", f"cache_dir={tmp_path}"])
    with pytest.raises(ValueError, match="latency.where: worker needs latency.threads"):
        make_evaluator(config, evaluate_candidate)


@needs_fashion_mnist
def test_quick_preset_on_ray_equals_the_process_pool_even_with_a_worker_killed(
        cache, tmp_path, no_ray_left):
    def quick(out: Path, backend: str) -> None:
        assert main(["--config", "quick", "--out", str(out), "--set", f"cache_dir={cache}",
                     "--set", "progress=false", "--set", f"evaluator.backend={backend}",
                     "--set", "evaluator.workers=2", "--set", "search.trials=2",
                     # the final stage on Ray too, at its smallest: each arm's best, one seed
                     "--set", "final.seeds=1", "--set", "final.references=false"]) == 0

    quick(tmp_path / "pool", "process")
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_first_running_candidate, args=(stop, killed))
    killer.start()
    try:
        quick(tmp_path / "ray", "ray")
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen training, so none was killed"
    # no trial lost, none failed, every number as the pool computed it (the same threads per
    # worker make training bit-identical), only the backend differs in the config
    pool, on_ray = tmp_path / "pool", tmp_path / "ray"
    assert read_trials(on_ray) == read_trials(pool)
    assert all(t["status"] == "ok" for t in read_trials(on_ray))
    final, reference = (json.loads((run / "final.json").read_text()) for run in (on_ray, pool))
    assert final["table_2x2"] == reference["table_2x2"] and final["gain"] == reference["gain"]
    assert sorted(p.name for p in on_ray.iterdir()) == sorted(p.name for p in pool.iterdir())


@pytest.fixture(scope="module")
def cluster():
    """One running local cluster for the tests that join it (starting a Ray instance is much of
    a short Ray run's time); its processes and the record that makes "auto" find it (``ray stop``
    would remove both) go when the module ends. The tests before the first that asks for it
    need no cluster running."""
    ray_cli = str(Path(sys.executable).parent / "ray")
    before = ray_processes()
    # 4 CPUs: two workers and a latency worker get one each (Ray counts them, it binds none)
    started = subprocess.run([ray_cli, "start", "--head", "--num-cpus=4", "--disable-usage-stats",
                              "--include-dashboard=false"], capture_output=True, text=True,
                             start_new_session=True, timeout=120)  # its signals stay out of
    # pytest's process group
    if started.returncode != 0:  # e.g. a cluster of the user's own already holds the port
        skip_or_fail(f"ray start failed: {started.stderr.strip().splitlines()[-1:]}")
    try:
        yield (Path(tempfile.gettempdir()) / "ray" / "session_latest").resolve()
    finally:  # only the processes this module started (`ray stop` would end every cluster)
        end_processes(ray_processes() - before)
        (Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster").unlink(missing_ok=True)


@needs_fashion_mnist
def test_a_dedicated_latency_worker_measures_instead_of_the_driver(cache, tmp_path, monkeypatch,
                                                                   cluster):
    import akd.latency.source

    def not_here(*args):
        raise AssertionError("the driver measured a latency")

    monkeypatch.setattr(akd.latency.source, "local_latency", not_here)  # the actor has its own copy
    lat_cache = tmp_path / "latency.jsonl"  # empty: every latency is measured now
    assert main(["--config", "quick", "--out", str(tmp_path / "run"), "--set",
                 f"cache_dir={cache}", "--set", "progress=false", "--set", "final.enabled=false",
                 "--set", "search.trials=2", "--set", "evaluator.backend=ray",
                 "--set", "evaluator.address=auto",
                 "--set", "evaluator.threads=1", "--set", "latency.where=worker",
                 "--set", f"latency.cache={lat_cache}"]) == 0
    trials = read_trials(tmp_path / "run")
    measured = [json.loads(line) for line in lat_cache.read_text().splitlines()]
    assert len(trials) == 4 and all(t["latency_ms"] > 0 for t in trials)
    assert len(measured) >= len({t["arch"] for t in trials})


@needs_fashion_mnist
def test_kill_9_of_the_driver_then_resume_on_ray(cache, tmp_path, quick_command,
                                                 kill_9_after_three_trials, cluster):
    run = tmp_path / "run"
    command = quick_command(run, cache, "evaluator.backend=ray", "evaluator.workers=2",
                            "evaluator.address=auto", "search.trials=3",
                            "final.enabled=false")  # a short last step too
    before = kill_9_after_three_trials(command, run)  # the cluster ends the dead driver's job
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    assert after[:len(before)] == before
    keys = sorted((t["arm"], t["candidate_id"]) for t in after)
    assert keys == [(arm, i) for arm in ("akd", "nas") for i in range(3)]
    assert all(t["status"] == "ok" for t in after)


@needs_fashion_mnist
def test_address_auto_joins_a_running_cluster_and_leaves_it_up(
        cache, tmp_path, quick_command, cluster):
    agents = {pid for pid, _, args in live_processes() if "raylet" in args or "gcs_server" in args}
    run = tmp_path / "run"
    process = subprocess.Popen(quick_command(run, cache, "evaluator.backend=ray",
                                             "evaluator.workers=2", "evaluator.address=auto",
                                             "search.trials=2", "final.enabled=false"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    _, stderr = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, stderr
    trials = read_trials(run)
    assert len(trials) == 4 and all(t["status"] == "ok" for t in trials)
    # the command was a driver of the cluster's session, started no Ray instance of its own
    # (that would be a new session) and left the cluster up
    assert (cluster.parent / "session_latest").resolve() == cluster
    assert list((cluster / "logs").glob(f"python-core-driver-*_{process.pid}.log"))
    assert agents and agents <= ray_processes()
