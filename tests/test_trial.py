"""The typed trial: what ``trials.jsonl`` holds, read back from this version's runs and from a
run kept from before the trial was typed (``flops`` for ``macs``), and refused when damaged."""

import json
import shutil

import pytest
from conftest import ROOT, made_trial

from akd.errors import DataError
from akd.reporting.analysis import load_run
from akd.search import TRIAL_FIELDS, RunDir, Trial, TrialStatus, top_trials

# a search run by akd before the trial was typed, kept with the study
KEPT_RUN = ROOT / "docs" / "study-v1" / "results" / "searches" / "vgg-seed0"


def raw_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_kept_from_before_the_typed_trial_still_loads():
    records = raw_lines(KEPT_RUN / "trials.jsonl")
    assert "flops" in records[0] and "macs" not in records[0]  # the old spelling
    trials = RunDir(KEPT_RUN).read_trials(repair=False, predicted=True)
    assert len(trials) == len(records)
    for trial, record in zip(trials, records):
        assert trial.macs == record["flops"] and trial.status == record["status"]
        assert isinstance(trial.status, TrialStatus)
        # written back, it is the same record but for the new name of one field
        renamed = {("macs" if k == "flops" else k): v for k, v in record.items()}
        assert trial.to_json() == {**dict.fromkeys(TRIAL_FIELDS), **renamed}
    run = load_run(KEPT_RUN)
    assert not any("not trials" in note for note in run.notes)
    assert len(run.trials) == sum(r["status"] != "predicted" for r in records)
    best = top_trials(run.arm_trials("akd"), 1)[0]
    ok = [r for r in records if r["arm"] == "akd" and r["status"] == "ok"]
    assert best.reward == max(r["reward"] for r in ok)


def test_a_trial_round_trips_through_its_json_line():
    trial = made_trial(0.5, "ir_r1_k3_s1_e1_c8", 7, kd={"temperature": 4.0},
                       predicted_acc=0.45)
    line = json.loads(json.dumps(trial.to_json()))  # as trials.jsonl holds it
    assert line["status"] == "ok" and line["macs"] == 1 and "flops" not in line
    assert Trial.from_json(line) == trial
    predicted = Trial.from_json({**line, "status": "predicted", "val_acc": None})
    assert predicted.status is TrialStatus.PREDICTED and not predicted.trained
    assert not predicted.ok and trial.ok and trial.trained


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("reward"), "not a trial: it lacks reward"),
    (lambda r: r.update(status="lost"), "status 'lost' is none of ok, failed, predicted"),
])
def test_a_record_that_is_not_a_trial_is_named(change, message):
    record = made_trial(0.5).to_json()
    change(record)
    with pytest.raises(ValueError, match=message):
        Trial.from_json(record)


def test_a_damaged_trial_log_is_a_one_line_error_naming_the_record(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(KEPT_RUN, run, ignore=shutil.ignore_patterns("tensorboard"))
    lines = (run / "trials.jsonl").read_text().splitlines()
    lines[2] = json.dumps({k: v for k, v in json.loads(lines[2]).items() if k != "arch"})
    (run / "trials.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"trials.jsonl record 3 is not a trial: it lacks arch; "
                                        r"the file is damaged"):
        RunDir(run).read_trials()
    # the report reads what it can and says what it set aside
    assert any("1 records are not trials" in note for note in load_run(run).notes)


def test_two_runs_compare_by_their_records_and_final_numbers(tmp_path):
    from research.compare_runs import compare
    copy = tmp_path / "copy"
    shutil.copytree(KEPT_RUN, copy, ignore=shutil.ignore_patterns("tensorboard"))
    lines = (copy / "trials.jsonl").read_text().splitlines()
    lines = [lines[-1], *lines[:-1]]  # another finishing order, as a process pool may give
    (copy / "trials.jsonl").write_text("\n".join(lines) + "\n")
    assert compare(KEPT_RUN, copy) == []
    changed = json.loads(lines[0])
    changed["val_acc"] += 0.001
    (copy / "trials.jsonl").write_text("\n".join([json.dumps(changed), *lines[1:]]) + "\n")
    [difference] = compare(KEPT_RUN, copy)
    assert f"1 of {len(lines)} records differ" in difference


def test_final_records_from_before_budgets_take_the_budget_their_final_json_recorded(tmp_path):
    from akd.final import final_records, run_key, training_budget
    raw = [json.loads(line) for line in (KEPT_RUN / "final_runs.jsonl").read_text().splitlines()]
    assert raw and not any("budget" in r for r in raw)  # kept from before budgets
    budget = training_budget(json.loads((KEPT_RUN / "final.json").read_text())["final"])
    records = final_records(KEPT_RUN, repair=False)
    assert [r["budget"] for r in records] == [budget] * len(raw)
    assert [run_key(r)[:4] for r in records] == [run_key(r)[:4] for r in raw]
    # without its final.json a record's budget is unknown: it is never taken for another's
    bare = tmp_path / "run"
    bare.mkdir()
    shutil.copy(KEPT_RUN / "final_runs.jsonl", bare)
    assert {r["budget"] for r in final_records(bare)} == {None}
