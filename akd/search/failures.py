"""Fail fast: a search whose trainings keep failing stops, instead of finishing a run of failed
trials whose reward is zero each (a bug in a teacher factory, a dataset the students cannot
take, a device that runs out of memory all look like that from the loop)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FailureWatch:
    """One arm's trainings in this session (a resumed run is judged afresh, so that a fixed
    cause lets it go on): stop after ``max_failures`` trainings when none succeeded or more than
    ``max_failed_share`` failed. ``max_failures = 0`` turns the watch off."""

    arm: str
    max_failures: int
    max_failed_share: float
    trained: int = 0
    errors: Counter = field(default_factory=Counter)

    def record(self, status: str, error: str | None) -> str | None:
        """Count one finished training; why the search must stop now, or None."""
        self.trained += 1
        if status != "ok":
            self.errors[error or "no error recorded"] += 1
        failed = sum(self.errors.values())
        if not self.max_failures or self.trained < self.max_failures or not failed:
            return None
        if failed == self.trained:
            what = f"all {failed} trainings of arm {self.arm} in this session failed"
        elif failed / self.trained > self.max_failed_share:
            what = (f"{failed} of the {self.trained} trainings of arm {self.arm} in this session "
                    f"failed, more than search.max_failed_share = {self.max_failed_share:g}")
        else:
            return None
        error, count = self.errors.most_common(1)[0]
        return (f"stopped: {what}; the most common error ({count}x): {error}. The failed trials "
                "are in trials.jsonl; fix the cause and --resume, or change "
                "search.max_failures (0: never stop) or search.max_failed_share")
