"""The process-pool evaluator survives workers that die, and gives up on a task that kills every
worker it meets, after a bounded number of retries."""

import os
from pathlib import Path

from akd.config import load_config
from akd.evaluation import Outcome
from akd.evaluator import MAX_RETRIES, ProcessEvaluator


def die_the_first_time(task: str, config, lock) -> Outcome:
    marker = Path(task)
    if marker.name == "dies" and not marker.exists():
        marker.write_text("died here once")
        os._exit(1)  # as a kill -9 or the OOM killer would end it: no exception, no cleanup
    return Outcome("ok", 0.5, 1, 1, None, 0.0)


def always_die(task: str, config, lock) -> Outcome:
    Path(task).with_suffix(f".{os.getpid()}").write_text("died")
    os._exit(1)


def test_dead_workers_are_replaced_and_their_tasks_retried(tmp_path):
    config = load_config(None, ["evaluator.backend=process", "evaluator.workers=2",
                                "search.arms=[nas]", "data.name=synthetic", "data.val_size=400",
                                f"cache_dir={tmp_path / 'cache'}", "progress=false"])
    # one worker death breaks the whole pool, and every task in flight then counts one attempt
    # (the pool cannot say which task killed it); one death stays well within the retries
    tasks = [str(tmp_path / name) for name in ("a", "dies", "c")]
    with ProcessEvaluator(config, work=die_the_first_time) as evaluator:
        for task in tasks:
            evaluator.submit(task)
        results = dict(evaluator.next_finished() for _ in tasks)
        assert evaluator.in_flight == 0
    assert (tmp_path / "dies").exists()  # its first worker did die
    assert sorted(results) == sorted(tasks)
    assert all(outcome.status == "ok" for outcome in results.values())


def test_a_task_that_kills_every_worker_is_failed_after_the_retries(tmp_path):
    config = load_config(None, ["evaluator.backend=process", "evaluator.workers=1",
                                "search.arms=[nas]", "data.name=synthetic", "data.val_size=400",
                                f"cache_dir={tmp_path / 'cache'}", "progress=false"])
    with ProcessEvaluator(config, work=always_die) as evaluator:
        evaluator.submit(str(tmp_path / "poison"))
        task, outcome = evaluator.next_finished()
    assert task == str(tmp_path / "poison") and outcome.status == "failed"
    assert "died" in outcome.error
    assert len(list(tmp_path.glob("poison.*"))) == MAX_RETRIES + 1  # one worker per attempt
