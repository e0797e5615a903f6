"""Nightly reconciliation runs to completion the same night: a run stopped by its deadline or hit by errors is
finished by the next hourly run; a completed night is not run again; errors never count as complete."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from chalicelib.clock import FixedClock
from chalicelib.services.payments import reconcile

NIGHT = datetime(2026, 12, 3, 3, 30, tzinfo=timezone.utc)


class Store:
    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}

    def load_checkpoint(self, job: str) -> dict | None:
        return self.docs.get(job)

    def save_checkpoint(self, job: str, doc: dict) -> None:
        self.docs[job] = doc

    def clear_checkpoint(self, job: str) -> None:
        self.docs.pop(job, None)


@pytest.fixture
def runs(monkeypatch):
    """The outcomes the phases will report, in order; records how many runs actually reconciled."""
    outcomes: list[dict] = []
    made: list[dict] = []

    def fake(deps, deadline=None):
        made.append(outcomes[len(made)])
        return outcomes[len(made) - 1]
    monkeypatch.setattr(reconcile, "reconcile_payments", fake)
    return SimpleNamespace(outcomes=outcomes, made=made)


def test_errors_or_a_deadline_are_finished_by_the_next_run_and_a_done_night_is_skipped(runs):
    clock = FixedClock(NIGHT)
    deps = SimpleNamespace(clock=clock, payment_store=Store())
    runs.outcomes += [{"complete": False, "errors": 0}, {"complete": True, "errors": 2},
                      {"complete": True, "errors": 0}, {"complete": True, "errors": 0}]
    assert reconcile.reconcile_tonight(deps)["complete"] is False  # 03:30: out of time
    clock.advance(hours=1)
    assert reconcile.reconcile_tonight(deps)["complete"] is False  # 04:30: finished, but with errors
    clock.advance(hours=1)
    assert reconcile.reconcile_tonight(deps)["complete"] is True   # 05:30: clean
    clock.advance(hours=1)
    assert reconcile.reconcile_tonight(deps) == {"skipped": True, "night": "2026-12-03", "complete": True}
    assert len(runs.made) == 3
    clock.advance(hours=21)  # the next night runs again
    assert reconcile.reconcile_tonight(deps)["complete"] is True and len(runs.made) == 4
