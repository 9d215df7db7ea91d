"""The search end to end on the quick preset: run-directory contract, TensorBoard, failures,
kill -9 and resume, the process-pool evaluator."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
import yaml
from conftest import RUN_TIMEOUT, needs_fashion_mnist
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from search_spaces import get_space

import akd.execution.training
from akd.cli import PRESETS, main
from akd.config import load_config
from akd.errors import RunError
from akd.search import TRIAL_FIELDS, Trial, TrialStatus, mnas_reward, recorded_target
from akd.search.board import ArmBoard
from akd.search.failures import FailureWatch
from akd.search.loop import run_search

pytestmark = [needs_fashion_mnist, pytest.mark.slow]


def quick(cache, *overrides):
    return load_config(PRESETS / "quick.yaml", [f"cache_dir={cache}", "progress=false",
                                                *overrides])


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_trials(run):
    return read_lines(run / "trials.jsonl")


def test_quick_run_writes_the_contract_files(quick_run):
    trials = read_trials(quick_run)
    config = load_config(quick_run / "config.yaml")
    assert config == quick(config.cache_dir)
    for arm in ("akd", "nas"):
        mine = [t for t in trials if t["arm"] == arm]
        assert len(mine) == config.search.trials
        assert sorted((t["step"], t["index"]) for t in mine) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for trial in trials:
        assert set(trial) == set(TRIAL_FIELDS)
        assert trial["status"] == "ok" and trial["error"] is None
        # what the code guarantees, on any host: which students a host's latencies steer the
        # controller to, and how well 1 epoch on 2,000 images trains them, are not guaranteed
        assert 0 <= trial["val_acc"] <= 1 and trial["latency_ms"] > 0 and trial["seconds"] > 0
        assert trial["reward"] == mnas_reward(trial["val_acc"], trial["latency_ms"],
                                              recorded_target(config, quick_run))
        assert trial["params"] > 0 and trial["macs"] > 0
        assert len(trial["decisions"]) == 42
    # the arms start from the same seed, so their first batch is the same architectures...
    first = {arm: [t["arch"] for t in trials if t["arm"] == arm and t["step"] == 0]
             for arm in ("akd", "nas")}
    assert sorted(first["akd"]) == sorted(first["nas"])
    # ...trained differently: KD against labels only. A student that learns nothing in the
    # quick budget's 16 steps predicts one class under either loss, and both arms then score the
    # same chance accuracy (seen on an AMD host); so only students above chance tell here, and
    # test_distill checks, on any host, that KD trains other weights than labels alone
    by_arch = {(t["arm"], t["arch"]): t["val_acc"] for t in trials if t["step"] == 0}
    chance = 1 / 10 + 0.05  # ten classes, and the noise of 1,000 validation images
    learned = [a for a in first["akd"] if max(by_arch["akd", a], by_arch["nas", a]) > chance]
    assert not learned or any(by_arch["akd", a] != by_arch["nas", a] for a in learned)
    for arm in ("akd", "nas"):
        state = torch.load(quick_run / "checkpoints" / f"{arm}.pt", weights_only=True)
        assert state["controller"]["pending"] == [] and state["step"] == 2
    # the reward's target: the median of the sampled students' latencies on this machine
    target = json.loads((quick_run / "reward_target.json").read_text())
    assert target["target_ms"] == np.quantile(target["latencies_ms"], 0.5)
    assert len(target["archs"]) == len(target["latencies_ms"]) == config.reward.target_samples
    timing = json.loads((quick_run / "timing.json").read_text())
    assert timing["evaluation_seconds"] > 0 and 0 <= timing["overhead_share"] < 1


def test_quick_run_ends_with_the_final_stage(quick_run):
    final = json.loads((quick_run / "final.json").read_text())
    assert [(s["source"], s["rank"]) for s in final["students"]] == [
        ("akd", 1), ("nas", 1), ("reference", 1)]
    for student in final["students"]:
        assert sorted((r["mode"], r["seed"]) for r in student["runs"]) == [
            ("cls", 0), ("cls", 1), ("kd", 0), ("kd", 1)]
        assert all(r["status"] == "ok" and 0 < r["test_acc"] <= 1 for r in student["runs"])
        # each with its validation accuracy (the split held out of the final training) beside
        assert all(0 < r["val_acc"] <= 1 for r in student["runs"])
        assert student["latency_ms"] > 0 and student["params"] > 0 and student["macs"] > 0
    # the hand-designed reference: MBConv6 3x3 throughout
    assert all(block.startswith("ir_") and "_k3_" in block and "_e6_" in block
               for block in final["students"][2]["arch"].split("|")[1:-1])
    assert final["gain"]["n"] == 2 and len(final["gain"]["ci95"]) == 2
    assert set(final["table_2x2"]) == {"hard_label", "distillation"}
    runs = read_lines(quick_run / "final_runs.jsonl")
    assert len(runs) == 12
    # the gain recomputed by hand from final_runs.jsonl, seed by seed
    acc = {(r["source"], r["mode"], r["seed"]): r["test_acc"] for r in runs}
    per_seed = [(acc["akd", "kd", s] - acc["akd", "cls", s])
                - (acc["nas", "kd", s] - acc["nas", "cls", s]) for s in (0, 1)]
    assert final["gain"]["per_seed"] == per_seed
    assert final["gain"]["mean"] == pytest.approx(np.mean(per_seed), abs=1e-15)
    assert final["table_2x2"]["distillation"]["trained_distillation"] == pytest.approx(
        np.mean([acc["akd", "kd", s] for s in (0, 1)]), abs=1e-15)


def test_final_only_finishes_a_stopped_final_stage(quick_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(quick_run, run)
    runs = (run / "final_runs.jsonl").read_text().splitlines(keepends=True)
    (run / "final_runs.jsonl").write_text("".join(runs[:10]) + runs[10][:20])  # torn line
    (run / "final.json").unlink()
    assert main(["--out", str(run), "--final-only", "--set", "progress=false"]) == 0
    after = read_lines(run / "final_runs.jsonl")
    assert len(after) == 12 and after[:10] == [json.loads(line) for line in runs[:10]]
    # the two trainings done again reproduce the original ones (CPU training is deterministic)
    originals = [json.loads(line) for line in runs]
    assert [r["test_acc"] for r in after[10:]] == [r["test_acc"] for r in originals[10:]]
    assert json.loads((run / "final.json").read_text())["gain"]["n"] == 2
    assert main(["--out", str(run), "--final-only", "--set", "progress=false"]) == 0
    assert "already complete" in capsys.readouterr().out


def test_a_changed_final_budget_trains_again_and_keeps_the_old_records(quick_run, tmp_path,
                                                                      capsys):
    run = tmp_path / "run"
    shutil.copytree(quick_run, run)
    before = read_lines(run / "final_runs.jsonl")
    first = json.loads((run / "final.json").read_text())
    assert {r["budget"] for r in before} == {first["budget"]}
    # quick's 500 training images become 400: a new budget, so nothing of the old one is reused
    changed = ["--out", str(run), "--final-only", "--set", "progress=false",
               "--set", "final.train_images=400"]
    assert main(changed) == 0
    after = read_lines(run / "final_runs.jsonl")
    assert after[:len(before)] == before and len(after) == 2 * len(before)
    second = json.loads((run / "final.json").read_text())
    assert second["budget"] != first["budget"] and second["final"]["train_images"] == 400
    # the run's recorded config says what ran
    assert yaml.safe_load((run / "config.yaml").read_text())["final"]["train_images"] == 400
    assert all(r["budget"] == second["budget"] for s in second["students"] for r in s["runs"])
    weights = {r["weights"] for r in after}  # each budget its own weight files
    assert len(weights) == len(after) and all((run / w).exists() for w in weights)
    assert main(changed) == 0 and "already complete" in capsys.readouterr().out
    # the reference was matched to the arms' winners timed in this run, through its cache
    reference = next(s for s in second["students"] if s["source"] == "reference")
    searched = [s for s in second["students"] if s["source"] != "reference"]
    assert reference["matched_latency_ms"] == pytest.approx(
        sum(s["latency_ms"] for s in searched) / len(searched))


def test_the_final_stage_trains_to_convergence_on_the_validation_split(quick_run, tmp_path):
    """final.training.patience: each training stops on validation accuracy (never the test
    split), keeps its best epoch and records where it stopped; the search may not change."""
    run = tmp_path / "run"
    shutil.copytree(quick_run, run)
    base = ["--out", str(run), "--final-only", "--set", "progress=false"]
    assert main(base + ["--set", "search.trials=5"]) == 2  # refused: it reads that search
    assert main(base + ["--set", "final.training.epochs=6", "--set", "final.training.patience=1",
                        "--set", "final.training.schedule=plateau",
                        "--set", "final.references=false"]) == 0
    final = json.loads((run / "final.json").read_text())
    runs = [r for s in final["students"] for r in s["runs"]]
    assert len(runs) == 8 and all(r["status"] == "ok" for r in runs)
    for record in runs:
        stopping = record["stopping"]
        assert 1 <= stopping["best_epoch"] <= stopping["epochs"] <= 6
        assert 0 <= stopping["lr_drops"] <= 2 and 0 < stopping["val_acc"] <= 1
    saved = yaml.safe_load((run / "config.yaml").read_text())["final"]["training"]
    assert (saved["patience"], saved["schedule"]) == (1, "plateau")


def test_tensorboard_has_one_readable_run_per_arm(quick_run):
    for arm in ("akd", "nas"):
        events = EventAccumulator(str(quick_run / "tensorboard" / arm),
                                  size_guidance={"tensors": 0})
        events.Reload()
        scalars = set(events.Tags()["scalars"])
        assert {"reward/mean", "reward/max", "reward/best_so_far", "accuracy/val_mean",
                "latency/mean_ms", "controller/entropy", "controller/baseline",
                "controller/pg_loss", "controller/policy_entropy"} <= scalars
        assert [e.step for e in events.Scalars("reward/mean")] == [0, 1]
        # each step's logged mean is the mean of that step's trials (TensorBoard keeps float32)
        trials = [t for t in read_trials(quick_run) if t["arm"] == arm]
        for event in events.Scalars("reward/mean"):
            step = [t["reward"] for t in trials if t["step"] == event.step]
            assert event.value == pytest.approx(np.mean(step), rel=1e-6)
        for event in events.Scalars("latency/mean_ms"):
            step = [t["latency_ms"] for t in trials if t["step"] == event.step]
            assert event.value == pytest.approx(np.mean(step), rel=1e-6)
        texts = set(events.Tags()["tensors"])
        assert {"config/text_summary", "top_architectures/text_summary"} <= texts
        # and every trial a session of the HParams dashboard, its reward as recorded
        sessions = hparams_sessions(quick_run / "tensorboard" / arm)
        assert len(sessions) == len(trials) == 4
        for trial in trials:
            values, _ = sessions[f"trials/{trial['candidate_id']:05d}"]
            assert values["status"] == trial["status"] and values["step"] == trial["step"]


def hparams_sessions(directory):
    """Run name -> (hyper-parameters, scalar tags) of every HParams session under
    ``directory``, read back from the event files with TensorBoard's own readers."""
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(directory))
    multiplexer.Reload()
    sessions = {}
    for run, tags in multiplexer.PluginRunToTagToContent("hparams").items():
        for content in tags.values():
            data = HParamsPluginData.FromString(content)
            if data.HasField("session_start_info"):
                values = {k: getattr(v, v.WhichOneof("kind"))
                          for k, v in data.session_start_info.hparams.items()}
                sessions[run] = (values, multiplexer.GetAccumulator(run).Tags()["scalars"])
    return sessions


def test_each_trial_is_a_session_of_the_hparams_dashboard(tmp_path):
    space = get_space("mnasnet", preset="small28")
    decisions = space.sample(np.random.default_rng(0))
    board = ArmBoard(tmp_path / "akd", space=space)
    common = {"arm": "akd", "step": 1, "index": 0, "arch": "x", "decisions": decisions,
              "error": None, "seconds": 1.0}
    board.log_trial(Trial(**common, candidate_id=3, status=TrialStatus.OK, val_acc=0.5,
                          latency_ms=1.25, reward=0.49, params=1000, macs=20000,
                          kd={"temperature": 4.0}))
    board.log_trial(Trial(**common, candidate_id=4, status=TrialStatus.FAILED, val_acc=None,
                          latency_ms=float("nan"), reward=0.0, params=None, macs=None))
    board.close()
    sessions = hparams_sessions(tmp_path)
    assert set(sessions) == {"akd/trials/00003", "akd/trials/00004"}
    values, scalars = sessions["akd/trials/00003"]
    for decision, index in zip(space.decisions, decisions):
        assert values[decision.name] == decision.values[index]
    assert values["status"] == "ok" and values["step"] == 1 and values["kd.temperature"] == 4.0
    assert set(scalars) == {"trial/val_acc", "trial/latency_ms", "trial/reward", "trial/params",
                            "trial/macs"}
    values, scalars = sessions["akd/trials/00004"]
    assert values["status"] == "failed" and scalars == ["trial/reward"]


def test_a_failing_candidate_is_recorded_and_the_search_goes_on(cache, tmp_path, monkeypatch):
    real_build = akd.execution.training.build_model
    calls = []

    def build_sometimes_failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(akd.execution.training, "build_model", build_sometimes_failing)
    trials = run_search(quick(cache, "search.arms=[nas]"), tmp_path / "run")["nas"]
    assert len(trials) == 4
    failed = [t for t in trials if t.status is TrialStatus.FAILED]
    assert len(failed) == 1 and failed[0].reward == 0.0 and failed[0].val_acc is None
    assert "RuntimeError: injected failure" in failed[0].error
    assert read_trials(tmp_path / "run")[1]["status"] == "failed"


def test_kill_9_then_resume_loses_nothing_and_repeats_nothing(
        cache, quick_run, tmp_path, quick_command, kill_9_after_three_trials):
    run = tmp_path / "run"
    command = quick_command(run, cache)
    before = kill_9_after_three_trials(command, run)
    assert 3 <= len(before) < 8

    result = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = read_trials(run)
    assert after[:len(before)] == before  # nothing recorded was lost or rewritten
    keys = [(t["arm"], t["candidate_id"]) for t in after]
    assert len(keys) == len(set(keys)) == 8  # nothing ran twice; exactly the budget
    # the controllers went on as the uninterrupted run did: the same candidates, step by step
    reference = read_trials(quick_run)
    for arm in ("akd", "nas"):
        assert sorted((t["step"], t["arch"]) for t in after if t["arm"] == arm) == sorted(
            (t["step"], t["arch"]) for t in reference if t["arm"] == arm)

    assert (run / "final.json").exists()
    again = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert "already complete" in again.stdout
    assert read_trials(run) == after


def test_a_search_whose_trainings_all_fail_stops_and_resumes_once_fixed(cache, tmp_path,
                                                                        monkeypatch):
    """A bug that fails every training stops the search at search.max_failures with the most
    common error named, instead of finishing a run of failed trials; fixed, --resume finishes it
    (a resume may change the limits) and the failed trials stay recorded."""
    real_build = akd.execution.training.build_model

    def broken(*args, **kwargs):
        raise RuntimeError("my factory is broken")

    monkeypatch.setattr(akd.execution.training, "build_model", broken)
    run = tmp_path / "run"
    config = quick(cache, "search.arms=[nas]", "search.max_failures=2")
    with pytest.raises(RunError, match=r"stopped: all 2 trainings of arm nas in this session "
                                       r"failed; the most common error \(2x\): RuntimeError: "
                                       r"my factory is broken"):
        run_search(config, run)
    assert [t["status"] for t in read_trials(run)] == ["failed", "failed"]
    monkeypatch.setattr(akd.execution.training, "build_model", real_build)
    trials = run_search(quick(cache, "search.arms=[nas]", "search.max_failures=3"), run,
                        resume=True)["nas"]
    assert [t.status for t in trials] == ["failed", "failed", "ok", "ok"]


def test_the_failure_watch_by_hand():
    watch = FailureWatch("akd", max_failures=4, max_failed_share=0.5)
    assert [watch.record(s, e) for s, e in (("failed", "A"), ("ok", None), ("failed", "B"))] == \
        [None, None, None]  # fewer than max_failures trainings: never judged
    assert watch.record("ok", None) is None  # 2 of 4: not more than half
    stop = watch.record("failed", "A")  # 3 of 5
    assert stop.startswith("stopped: 3 of the 5 trainings of arm akd in this session failed, "
                           "more than search.max_failed_share = 0.5; the most common error (2x): A")
    off = FailureWatch("nas", max_failures=0, max_failed_share=0.0)
    assert all(off.record("failed", "x") is None for _ in range(10))
    with pytest.raises(ValueError, match="search.max_failed_share must be in"):
        quick("/tmp", "search.max_failed_share=1.5")


def test_resume_refuses_a_config_that_changes_the_search(quick_run, cache, tmp_path):
    run = tmp_path / "run"  # a copy: a regression here must not spread to the shared run
    shutil.copytree(quick_run, run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(RunError, match="differs from the run's in proxy.lr"):
        run_search(quick(cache, "proxy.lr=0.05"), run, resume=True)
    with pytest.raises(RunError, match="already holds a run"):
        run_search(quick(cache), run)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("file, line", [("trials.jsonl", 3), ("final_runs.jsonl", 2)])
def test_resume_with_a_damaged_log_is_a_one_line_error(file, line, quick_run, cache, tmp_path,
                                                       capsys):
    """Garbage in the middle of a log (not a line torn by a crash, which is cut off and redone)
    names the file and line; nothing is changed."""
    run = tmp_path / "run"
    shutil.copytree(quick_run, run)
    lines = (run / file).read_text().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1][:20] + "\x00garbage\n"
    (run / file).write_text("".join(lines))
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    argv = ["--config", "quick", "--out", str(run), "--resume", "--set", f"cache_dir={cache}",
            "--set", "progress=false"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{file} line {line} is not JSON" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_process_pool_gives_the_same_kind_of_run(cache, tmp_path):
    config = quick(cache, "evaluator.backend=process", "evaluator.workers=2",
                   "search.trials=2")
    trials = run_search(config, tmp_path / "run")
    assert {arm: len(t) for arm, t in trials.items()} == {"akd": 2, "nas": 2}
    recorded = read_trials(tmp_path / "run")
    assert len(recorded) == 4 and all(t["status"] == "ok" for t in recorded)
    assert set(recorded[0]) == set(TRIAL_FIELDS)


def test_asynchronous_search_keeps_the_budget_through_kill_9_and_resume(
        cache, tmp_path, quick_command, kill_9_after_three_trials):
    run = tmp_path / "run"
    command = quick_command(run, cache, "search.asynchronous=true", "search.trials=5",
                            "evaluator.backend=process", "evaluator.workers=2",
                            "final.enabled=false")
    before = kill_9_after_three_trials(command, run)
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = read_trials(run)
    assert after[:len(before)] == before
    for arm in ("akd", "nas"):
        ids = sorted(t["candidate_id"] for t in after if t["arm"] == arm)
        assert ids == list(range(5))  # exactly the budget, nothing twice, no gap
    assert all(t["status"] == "ok" for t in after)
    # a candidate's step is its id // batch_size, as in a synchronous run
    assert all(divmod(t["candidate_id"], 2) == (t["step"], t["index"]) for t in after)
    for arm in ("akd", "nas"):  # every step, the last short one too, reached TensorBoard
        events = EventAccumulator(str(run / "tensorboard" / arm), size_guidance={"scalars": 0})
        events.Reload()
        assert [e.step for e in events.Scalars("reward/mean")] == [0, 1, 2]
