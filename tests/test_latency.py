"""Latency: measurement stats, the on-disk cache, the lookup table and the core lock."""

import dataclasses
import fcntl
import itertools
import json

import numpy as np
import pytest
import torch

from search_spaces import build_model, get_space
from search_spaces.builder import Layer

import akd.latency.cache
import akd.latency.measure
from akd import CoreLock, LatencyCache, LatencyConfig, LatencyTable, latency_of, measure_latency
from akd.latency import Reference, measure_with
from akd.latency.measure import balanced_runs
from akd.latency.reference import REFERENCES

TINY = "cn_r1_k3_s1_c4|ir_r2_k3_s2_e3_c8_se0.25|cn_r1_k1_s1_c16"
FAST = LatencyConfig(input_size=(1, 12, 12), warmup=1, repeats=5, retries=0)


def test_stats_are_positive_and_ordered():
    stats = measure_latency(build_model(TINY, num_classes=3, in_channels=1), (1, 12, 12),
                            warmup=1, repeats=5)
    assert 0 < stats.p10_ms <= stats.median_ms <= stats.p90_ms
    assert stats.spread >= 0 and stats.cv >= 0
    assert stats.runs == 5 and 1 <= stats.attempts <= 4
    assert stats.converged == (stats.spread <= 0.1)


def test_model_and_threads_are_left_as_they_were():
    model = build_model(TINY, num_classes=3, in_channels=1).train()
    before = torch.get_num_threads()
    measure_latency(model, (1, 12, 12), threads=1, warmup=0, repeats=5)
    assert model.training and torch.get_num_threads() == before


def test_wide_spread_is_measured_again_and_the_tightest_attempt_kept(monkeypatch):
    runs = iter([np.array([1.0, 1.0, 2.0, 3.0, 9.0]), np.array([2.0, 2.0, 2.0, 2.1, 2.0])])
    monkeypatch.setattr(akd.latency.measure, "_time_runs", lambda model, x, n, sync: next(runs)
                        if n == 5 else np.ones(n))
    stats = measure_latency(torch.nn.Identity(), (1, 2, 2), warmup=3, repeats=5, retries=3)
    assert (stats.attempts, stats.median_ms, stats.converged) == (2, 2.0, True)


def test_spread_that_never_narrows_is_reported_unconverged(monkeypatch):
    monkeypatch.setattr(akd.latency.measure, "_time_runs",
                        lambda model, x, n, sync: np.arange(1.0, n + 1.0))
    stats = measure_latency(torch.nn.Identity(), (1, 2, 2), repeats=5, retries=2)
    assert (stats.attempts, stats.converged, stats.median_ms) == (3, False, 3.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"input_size": (28, 28)}, "input_size"),
    ({"threads": 0}, "threads"),
    ({"repeats": 2}, "repeats"),
    ({"max_spread": 0}, "max_spread"),
    ({"device": "tpu"}, "device"),
    ({"device": "mps"}, "device"),
])
def test_bad_settings_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure_latency(torch.nn.Identity(), **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_value_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        LatencyConfig(device="cuda")


def test_latency_is_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    path = tmp_path / "latency.jsonl"
    cache = LatencyCache(path)
    first = latency_of(TINY, cache, FAST, num_classes=3)
    assert first.median_ms > 0
    # A second search arm / resumed run reads the file and measures nothing.
    monkeypatch.setattr("akd.latency.cache.measure_with", _no_measuring)
    assert latency_of(TINY, cache, FAST, num_classes=3) == first
    assert latency_of(TINY, LatencyCache(path), FAST, num_classes=3) == first
    entry = json.loads(path.read_text())
    assert entry["key"]["arch"] == TINY and entry["key"]["device"].startswith("cpu: ")


def test_other_settings_miss_the_cache(tmp_path):
    cache = LatencyCache(tmp_path / "latency.jsonl")
    latency_of(TINY, cache, FAST, num_classes=3)
    latency_of(TINY, cache, FAST, num_classes=4)
    latency_of(TINY, cache, LatencyConfig((1, 14, 14), warmup=0, repeats=5), num_classes=3)
    assert len(cache) == 3


def test_cache_sees_what_another_process_appended(tmp_path, monkeypatch):
    path = tmp_path / "latency.jsonl"
    mine, theirs = LatencyCache(path), LatencyCache(path)
    stats = latency_of(TINY, theirs, FAST, num_classes=3)
    monkeypatch.setattr("akd.latency.cache.measure_with", _no_measuring)
    assert latency_of(TINY, mine, FAST, num_classes=3) == stats


def test_half_written_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "latency.jsonl"
    stats = latency_of(TINY, LatencyCache(path), FAST, num_classes=3)
    with open(path, "a") as file:
        file.write('{"key": {"arch": "cn_r1_k3_s1_c4"}, "sta\n')
    with pytest.warns(UserWarning, match="skipping unreadable line"):
        cache = LatencyCache(path)
    assert len(cache) == 1 and latency_of(TINY, cache, FAST, num_classes=3) == stats


def test_line_still_being_written_is_read_once_complete(tmp_path):
    path = tmp_path / "latency.jsonl"
    latency_of(TINY, LatencyCache(path), FAST, num_classes=3)
    line = path.read_text()
    path.write_text(line + line[:20])  # another process is half-way through its append
    cache = LatencyCache(path)
    assert len(cache) == 1
    path.write_text(line + line.replace(TINY, "cn_r1_k3_s1_c5"))
    cache.refresh()
    assert len(cache) == 2


def test_table_predicts_positive_latency_and_measures_each_layer_once(tmp_path, monkeypatch):
    arch = "cn_r1_k3_s1_c4|ir_r3_k3_s2_e3_c8|cn_r1_k1_s1_c16"
    table = LatencyTable(LatencyCache(tmp_path / "table.jsonl"), FAST, num_classes=3)
    predicted = table.predict(arch)
    assert predicted > 0
    # Two of the three ir layers share a signature: 5 layers + classifier, 5 distinct entries.
    assert len(table.cache) == 5
    monkeypatch.setattr("akd.latency.cache.measure_with", _no_measuring)
    assert LatencyTable(LatencyCache(tmp_path / "table.jsonl"), FAST, 3).predict(arch) == predicted


@pytest.mark.parametrize("seed", range(5))
def test_table_layers_are_the_layers_of_the_real_model(seed):
    space = get_space("mnasnet", preset="small28")
    arch = space.decode(space.sample(np.random.default_rng(seed)))
    config = LatencyConfig(input_size=(1, 28, 28))
    model = build_model(arch, num_classes=10, in_channels=1)
    seen = []
    for module in model.modules():
        if isinstance(module, Layer):
            module.register_forward_pre_hook(
                lambda m, args: seen.append((tuple(args[0].shape[1:]), m.residual)))
    model(torch.zeros(1, 1, 28, 28))
    jobs = LatencyTable(LatencyCache(), config).jobs(arch)[:-1]
    expected = [(job.config.input_size, "noskip" not in job.names["layer"]) for job in jobs]
    assert seen == expected
    built = jobs[1].build()  # and a job builds the same layer as the model's
    assert [p.shape for p in built.parameters()] == [
        p.shape for p in model.features[1][0].parameters()]


def test_measuring_is_exclusive_and_training_is_shared(tmp_path):
    lock = CoreLock(tmp_path / "cores.lock")
    with open(lock.path, "a") as other:  # another process's view of the same lock file
        with lock.measuring():
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)
        with lock.training():
            fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(other, fcntl.LOCK_UN)
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on leaving


def test_nesting_the_lock_in_one_thread_raises_instead_of_hanging(tmp_path):
    lock = CoreLock(tmp_path / "cores.lock")
    with lock.training():
        with pytest.raises(RuntimeError, match="already holds it for training"):
            with lock.measuring():
                pass


def test_latency_of_measures_while_holding_the_lock(tmp_path, monkeypatch):
    lock = CoreLock(tmp_path / "cores.lock")

    def measure_while_checking(model, config):
        with open(lock.path, "a") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a trainer would have to wait
        return akd.latency.measure.measure_with(model, config)

    monkeypatch.setattr("akd.latency.cache.measure_with", measure_while_checking)
    assert latency_of(TINY, LatencyCache(), FAST, num_classes=3, lock=lock).median_ms > 0


def _no_measuring(model, config):
    raise AssertionError("measured although the cache holds this entry")


class _Costly(torch.nn.Module):
    """A stand-in model whose simulated run costs ``units`` of the simulated host's time."""

    def __init__(self, units: float, overhead: float = 0.0) -> None:
        super().__init__()
        self.units = units  # arithmetic, in units of the simulated host's compute speed
        self.overhead = overhead  # per-call overhead, which the host may slow unequally

    def forward(self, x):
        return x


def _simulated_host(monkeypatch, speed_of_call):
    """Replace timing by a simulated clock: the ``i``-th timed block of runs costs each run its
    model's units times ``speed_of_call(i)`` ms."""
    calls = itertools.count()

    def simulated_runs(model, x, runs, sync):
        return np.full(runs, model.units * speed_of_call(next(calls)))

    monkeypatch.setattr(akd.latency.measure, "_time_runs", simulated_runs)


def _cv(values) -> float:
    return float(np.std(values) / np.mean(values))


def test_interleaving_cancels_a_host_that_slows_down_between_blocks(monkeypatch):
    # a shared VM: the host's speed jumps between windows of tens of ms, here every two blocks
    speeds = np.random.default_rng(0).uniform(0.5, 2.5, size=10_000)
    _simulated_host(monkeypatch, lambda i: speeds[i // 2])
    student, reference = _Costly(3.0), _Costly(2.0)
    direct = LatencyConfig(input_size=(1, 4, 4), warmup=0, repeats=30, retries=0)
    drifting = [measure_with(student, direct).median_ms for _ in range(10)]
    assert _cv(drifting) > 0.2  # a direct measurement takes whatever speed its window had
    interleaved = dataclasses.replace(direct, method="interleaved")
    measured = [measure_with(student, interleaved, [Reference(reference, 1.25)])
                for _ in range(10)]
    assert all(s.method == "interleaved" and s.reference_ms == 1.25 for s in measured)
    # the ratio to the reference is exact whatever the speed: 3 / 2 of the reference's 1.25 ms
    assert [s.median_ms for s in measured] == pytest.approx([1.875] * 10, rel=1e-12)


def test_interleaving_cancels_a_steady_drift_within_each_pair(monkeypatch):
    _simulated_host(monkeypatch, lambda i: 1.0 + 0.02 * i)  # slower and slower, block by block
    config = LatencyConfig(input_size=(1, 4, 4), warmup=0, repeats=30, retries=0,
                           method="interleaved")
    stats = measure_with(_Costly(3.0), config, [Reference(_Costly(2.0), 1.0)])
    assert stats.median_ms == pytest.approx(1.5, rel=0.01)  # alternating order: errors cancel


def test_interleaved_blocks_of_a_fast_student_span_the_reference_blocks_time(monkeypatch):
    # a 0.1 ms student against a 2 ms reference: 5 runs each would make the student's block a
    # twentieth of the reference's window; it runs 20 times as often instead
    assert balanced_runs(np.full(3, 0.1), np.full(3, 2.0)) == (50, 5)  # capped
    assert balanced_runs(np.full(3, 0.5), np.full(3, 2.0)) == (20, 5)
    assert balanced_runs(np.full(3, 4.0), np.full(3, 2.0)) == (5, 10)  # the reference is faster
    assert balanced_runs(np.array([]), np.array([])) == (5, 5)  # no warm-up to go by
    blocks = []
    _simulated_host(monkeypatch, lambda i: 1.0 + 0.02 * i)
    real = akd.latency.measure._time_runs
    monkeypatch.setattr(akd.latency.measure, "_time_runs", lambda model, x, runs, sync: (
        blocks.append((model.units, runs)) or real(model, x, runs, sync)))
    config = LatencyConfig(input_size=(1, 4, 4), warmup=2, repeats=30, retries=0,
                           method="interleaved")
    stats = measure_with(_Costly(0.5), config, [Reference(_Costly(2.0), 1.0)])
    assert stats.median_ms == pytest.approx(0.25, rel=0.01) and stats.runs == 20 * 20
    timed = blocks[2:]  # after the two warm-ups
    assert {runs for units, runs in timed if units == 0.5} == {20}
    assert {runs for units, runs in timed if units == 2.0} == {5}


def test_each_model_is_timed_against_the_rung_of_the_ladder_nearest_its_speed(monkeypatch):
    # the host slows arithmetic and per-call overhead unequally from window to window: only a
    # reference that spends its time like the model cancels that
    speeds = np.random.default_rng(1).uniform(0.5, 2.5, size=(10_000, 2))

    blocks = itertools.count()

    def simulated_runs(model, x, runs, sync):
        # the speed holds for a pair of timed blocks (a warm-up, of 3 runs, takes the next one's)
        compute, overhead = speeds[(next(blocks) if runs != 3 else 0) // 2]
        return np.full(runs, model.units * compute + model.overhead * overhead)

    monkeypatch.setattr(akd.latency.measure, "_time_runs", simulated_runs)
    ladder = [Reference(_Costly(2.0), 1.0, "main"), Reference(_Costly(0.0, 0.2), 0.1, "fast")]
    config = LatencyConfig(input_size=(1, 4, 4), warmup=3, repeats=30, retries=0,
                           method="interleaved")
    fast = [measure_with(_Costly(0.0, 0.1), config, ladder) for _ in range(5)]
    assert {s.reference for s in fast} == {"fast"} and {s.reference_ms for s in fast} == {0.1}
    assert [s.median_ms for s in fast] == pytest.approx([0.05] * 5, rel=1e-12)  # exact
    against_main = [measure_with(_Costly(0.0, 0.1), config, ladder[:1]) for _ in range(5)]
    assert _cv([s.median_ms for s in against_main]) > 0.02  # the unequal drift stays in
    slow = measure_with(_Costly(3.0), config, ladder)
    assert slow.reference == "main" and slow.median_ms == pytest.approx(1.5, rel=1e-12)


def test_interleaved_needs_a_reference():
    config = LatencyConfig(input_size=(1, 4, 4), method="interleaved")
    with pytest.raises(ValueError, match="needs a reference model"):
        measure_with(_Costly(1.0), config)


def test_interleaved_latencies_share_one_calibration_and_say_how_they_were_taken(tmp_path,
                                                                                 monkeypatch):
    calibrations, rungs = [], []
    real, real_rung = akd.latency.cache.calibrate, akd.latency.cache.calibrate_rung
    monkeypatch.setattr(akd.latency.cache, "calibrate",
                        lambda config: calibrations.append(config) or real(config))
    monkeypatch.setattr(akd.latency.cache, "calibrate_rung", lambda config, arch, main_ms: (
        rungs.append(arch) or real_rung(config, arch, main_ms)))
    config = LatencyConfig(input_size=(1, 8, 8), warmup=1, repeats=5, retries=0,
                           method="interleaved")
    cache = LatencyCache(tmp_path / "latency.jsonl")
    small, large = (latency_of(arch, cache, config) for arch in ("cn_r1_k3_s1_c4",
                                                                 "cn_r1_k3_s1_c16"))
    assert len(calibrations) == 1  # once per machine and setting, then from the cache
    assert rungs == list(REFERENCES[1:])  # every other rung once, against the main one
    assert small.method == large.method == "interleaved"
    assert {small.reference, large.reference} <= set(REFERENCES)
    assert small.reference_ms > 0 and large.reference_ms > 0
    reread = LatencyCache(tmp_path / "latency.jsonl")
    assert latency_of("cn_r1_k3_s1_c4", reread, config) == small
    assert len(calibrations) == 1 and len(rungs) == len(REFERENCES) - 1
    # a direct measurement of the same student is another entry, never confused with it
    direct = dataclasses.replace(config, method="direct")
    assert latency_of("cn_r1_k3_s1_c4", reread, direct).method == "direct"
