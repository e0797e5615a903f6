"""The reconciliation checkpoint keeps its stored shape, so a run interrupted before a deploy resumes after it."""
from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.services.payments.reconcile import Checkpoint, Phase

STORED = {"phase": "open", "after": "sr_0042", "summary": {"open": 12, "fixedPaid": 3, "errors": 1},
          "savedAt": "2026-11-24T03:00:00Z"}


def test_a_stored_checkpoint_round_trips():
    checkpoint = Checkpoint.from_doc(STORED)
    assert checkpoint == Checkpoint(Phase.OPEN, "sr_0042", {"open": 12, "fixedPaid": 3, "errors": 1},
                                    datetime(2026, 11, 24, 3, tzinfo=timezone.utc))
    assert checkpoint.to_doc() == STORED


def test_no_checkpoint_or_an_unknown_phase_starts_from_the_first_phase():
    assert Checkpoint.from_doc(None) == Checkpoint() == Checkpoint.from_doc({"phase": "retired", "after": "sr_1"})
    assert Checkpoint().phase is Phase.EVENTS and Checkpoint().after is None
