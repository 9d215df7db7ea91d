"""Fixtures shared by the end-to-end tests: one quick run on the real dataset per session."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from akd.cli import main
from akd.common.logs import configure_logging
from akd.data import DEBIAN_FASHION_MNIST
from akd.search import Trial, TrialStatus

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 600  # seconds any one command of a test may take: a hang fails, never stalls CI
IN_CI = os.environ.get("CI") == "true"
MISSING_DATA = "Fashion-MNIST missing: apt-get install dataset-fashion-mnist (make test does)"

# the end-to-end tests need the real dataset; a user's machine without it skips them (-ra says
# which and why), CI must not (see pytest_configure)
needs_fashion_mnist = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason=MISSING_DATA)


def cuda(test):
    """A test of akd's CUDA path: it runs where a GPU is (experiments/gpu_check.py's machine, a
    user's), and is skipped with the reason elsewhere, CI included (CI has no GPU)."""
    return pytest.mark.cuda(pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available() is "
                                              "False): the CUDA tests run on a GPU machine")(test))


def pytest_configure(config):
    configure_logging()  # akd's messages reach the captured stdout, as the commands' do
    # one torch thread in the test process: tiny networks gain little from a second one, and on
    # a shared 2-core machine OpenMP threads waiting on each other made a training 10-30x slower
    # whenever another process loaded the cores (a NAGO student of 48 tiny convolutions: 124 ms a
    # step alone with 2 threads, 1,337 ms beside one other test run, 173 and 236 ms with 1),
    # which is how the efficiency benchmark's test stalled CI past its limit. The commands the
    # tests start get one thread too, so that their trainings equal this process's bit for bit
    # (a resumed run must ask the candidates the in-process quick run asked)
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    if IN_CI and not DEBIAN_FASHION_MNIST.is_dir():
        raise pytest.UsageError(f"CI=true but {MISSING_DATA}: the end-to-end tests cannot run")


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (setup.cfg): one test process per core this process may use. Each trains with
    one thread, so together they fill the cores without oversubscribing them; xdist's own count
    (physical cores) would give one process on a 2-vCPU machine."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# expensive session fixtures of this file that the test processes should make only once
EXPENSIVE_SESSION_FIXTURES = {"quick_run"}


@pytest.hookimpl(tryfirst=True)  # before xdist's hook turns the marks into groups
def pytest_collection_modifyitems(config, items):
    """With pytest-xdist, a module- or session-scoped fixture is made once per test process that
    uses it: the tests sharing an expensive one (the quick run, a module's tiny study or table)
    go to one process (--dist loadgroup) so that it is made once. A test that names its group
    keeps it (the Ray tests, which count Ray processes machine-wide)."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        # _fixtureinfo: pytest's record of the fixtures a test uses, with where they are defined
        for name, definitions in item._fixtureinfo.name2fixturedefs.items():
            fixture = definitions[-1]
            of_its_module = fixture.baseid.endswith(".py") and fixture.scope != "function"
            if name in EXPENSIVE_SESSION_FIXTURES or of_its_module:
                item.add_marker(pytest.mark.xdist_group(fixture.baseid if of_its_module else name))
                break


def pytest_runtest_setup(item):
    """A grouped test that did not get its group fails before it runs: pytest 9.2 made xdist's
    loadgroup group nothing, silently (pytest-dev/pytest-xdist#1386), and the Ray tests would
    then fail each other from two processes."""
    if getattr(item.config.option, "loadgroup", False) and "@" not in item.nodeid and \
            item.get_closest_marker("xdist_group"):
        pytest.fail(f"pytest-xdist did not group this test with pytest {pytest.__version__}: "
                    "install the pinned versions (pip install -c constraints.txt -e '.[test]')",
                    pytrace=False)


def end_to_end(test):
    """A test that runs the pipeline on the real dataset: marked slow (pytest -m "not slow"
    leaves it out of a quick inner loop; make test and CI run it)."""
    return pytest.mark.slow(needs_fashion_mnist(test))


def skip_or_fail(reason: str, module: bool = False) -> None:
    """Skip the test (or the whole ``module``) on a user's machine, saying why in one line;
    fail it in CI, where every test must really run."""
    if IN_CI:
        pytest.fail(f"CI=true, so this cannot be skipped: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def require_ray(module: bool = False):
    """The ray module, or a skip (a failure in CI) when it is not installed."""
    try:
        import ray
    except ImportError:
        skip_or_fail("Ray is not installed: pip install -c constraints.txt -e '.[ray]'", module)
    return ray


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One cache (prepared data, the quick teacher, logits, latencies) for the whole session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """A cache of the module's own (its tiny presets' data, teachers, latencies)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def private_core_lock(module_cache, monkeypatch):
    """A core lock of the module's own: its trainings never wait on another process's."""
    monkeypatch.setenv("AKD_CORE_LOCK", str(module_cache / "cores.lock"))


@pytest.fixture(scope="session")
def quick_run(cache, tmp_path_factory):
    """A finished run of the quick preset (search and final stage). Tests must not modify it:
    copy it first."""
    run = tmp_path_factory.mktemp("quick") / "run"
    assert main(["--config", "quick", "--out", str(run), "--set", f"cache_dir={cache}",
                 "--set", "progress=false"]) == 0
    return run


@pytest.fixture(scope="session")
def quick_command():
    """The command line of a quick run into ``run`` with ``cache`` and ``key=value`` overrides."""
    def command(run, cache, *overrides):
        line = [sys.executable, str(ROOT / "experiments" / "run_akd.py"), "--config", "quick",
                "--out", str(run), "--set", f"cache_dir={cache}", "--set", "progress=false"]
        return line + [arg for override in overrides for arg in ("--set", override)]
    return command


def live_processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, whole command line) of every process that is not a zombie."""
    # ww: whole command lines, where "/ray/" may be late
    out = subprocess.run(["ps", "-eww", "-o", "pid=,ppid=,stat=,args="], capture_output=True,
                         text=True, timeout=30).stdout
    rows = [line.split(None, 3) for line in out.splitlines()]
    return [(int(pid), int(ppid), args[0] if args else "")
            for pid, ppid, stat, *args in rows if not stat.startswith("Z")]


def spawned_workers(parent: int | None = None) -> set[int]:
    """Live multiprocessing workers whose parent is ``parent`` (None: any)."""
    return {pid for pid, ppid, args in live_processes()
            if parent in (None, ppid) and "spawn_main" in args}


@pytest.fixture(scope="session")
def kill_9_after_three_trials():
    """Start a command and kill -9 it once three trials (or ``lines`` of ``file``: a table's
    trainings) are recorded; the complete records."""
    def run_and_kill(command, run, lines=3, file="trials.jsonl"):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, cwd=ROOT,  # python -m research.*
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})
        trials = run / file
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (trials.exists() and trials.read_text().count("\n") >= lines):
            assert process.poll() is None and time.monotonic() < deadline, "run ended too early"
            time.sleep(0.05)
        workers = spawned_workers(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        deadline = time.monotonic() + 10  # process-pool workers end with their driver
        while (left := workers & spawned_workers()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"workers of the killed driver still running: {left}"
        return [json.loads(line) for line in trials.read_text().splitlines()
                if line.endswith("}")]  # a line torn by the kill is not a record
    return run_and_kill


# Ray processes (on this machine) and a check that a test leaves none of its own behind
RAY_PROCESS = ("raylet", "gcs_server", "ray::", "/ray/", "-m ray.")  # agents, monitors too


def ray_processes() -> set[int]:
    return {pid for pid, _, args in live_processes() if any(name in args for name in RAY_PROCESS)}


@pytest.fixture
def no_ray_left():
    """Fails the test when Ray processes it started are still running a while after it."""
    before = ray_processes()
    yield
    deadline = time.monotonic() + 15
    while (left := ray_processes() - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"Ray processes left running: {left}"


def end_processes(pids: set[int]) -> None:
    """End ``pids`` as `ray stop` would: SIGTERM, then SIGKILL what is left after 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while (pids := pids & ray_processes()) and time.monotonic() < deadline:
            time.sleep(0.2)


def damage(path: Path, how: str) -> None:
    """Damage a cache file as a crash or a bad disk would: cut it short, or flip one byte."""
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[:len(data) // 2]))
    else:
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


def made_trial(reward: float | None, arch: str = "x", candidate_id: int = 0, **fields) -> Trial:
    """A hand-made trial: ``reward`` None makes it a failed one (the failed reward, -1 here so
    that a test sees it is never counted)."""
    values = {"arm": "akd", "step": 0, "index": 0, "decisions": [], "val_acc": reward,
              "latency_ms": 1.0, "params": 1, "macs": 1, "error": None, "seconds": 0.0,
              "status": TrialStatus.OK if reward is not None else TrialStatus.FAILED, **fields}
    return Trial(arch=arch, candidate_id=candidate_id,
                 reward=reward if reward is not None else -1.0, **values)
