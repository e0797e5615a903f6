"""Reminder runs stop at their deadline (the Lambda's remaining time, here a context that counts down) and the
next run continues the stopped run's windows: every reminder is sent exactly once, including those whose window
the next run alone would no longer cover. moto DynamoDB (requests, the reminders index, the ops table)."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bench.jobs import NOW, job_request, seed_catalog, store
from chalicelib.invocation import deadline_from
from chalicelib.services import reminders

DUE_24H = 6  # starting (NOW+23h, NOW+24h]: a 24 h reminder due at NOW
DUE_2H = 4  # starting (NOW+1h, NOW+1h15m], 24 h reminder already sent: a 2 h reminder due at NOW only


class CountdownContext:
    """A Lambda context whose remaining time drops by `step_ms` at every look (no clock involved)."""

    def __init__(self, remaining_ms: int, step_ms: int) -> None:
        self.remaining_ms, self.step_ms = remaining_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        now = self.remaining_ms
        self.remaining_ms -= self.step_ms
        return now


def stops_after(reminders_sent: int) -> CountdownContext:
    """One look when the deadline is built, one before each reminder: out of time at look reminders_sent + 1."""
    return CountdownContext(10_000, 5_000 // (reminders_sent + 1))


class RecordingNotifier:
    def __init__(self) -> None:
        self.to: list[str] = []

    def send(self, to: str, subject: str, text: str, attachments=(), *, html=None, message_id=None) -> str:
        self.to.append(to)
        return f"msg-{len(self.to)}"


@pytest.fixture
def due(tables, app_container) -> list:
    seed_catalog()
    app_container.override(clock=lambda: NOW, notifier=RecordingNotifier())
    requests = []
    for i in range(DUE_24H):
        start, sent = NOW + timedelta(hours=23, minutes=10 + 5 * i), ()
        requests.append((i, start, sent))
    for i in range(DUE_24H, DUE_24H + DUE_2H):
        requests.append((i, NOW + timedelta(hours=1, minutes=2 + 3 * (i - DUE_24H)), ("24h",)))
    stored = [job_request(i, start=start, status="CONFIRMED", payment_status="COD_DUE", method="COD",
                          updated_at=NOW - timedelta(days=3)).with_changes(
        customer_email=f"c{i}@example.com", reminders_sent=sent) for i, start, sent in requests]
    store(stored)
    return stored


def test_a_stopped_run_is_continued_by_the_next_runs_without_duplicates_or_losses(app_container, due):
    queue, notifier = app_container.reminder_queue, app_container.notifier
    first = reminders.send_reminders(app_container, NOW, deadline=deadline_from(stops_after(4)))
    assert (first["sent"], first["complete"]) == (4, False)
    assert queue.load_continuation() == NOW

    # The 2 h reminders are outside the next run's own window: only the continuation brings them back.
    later = NOW + timedelta(minutes=15)
    assert not any(reminders.due_kind(r, "2h", later) for r in due[DUE_24H:])

    second = reminders.send_reminders(app_container, later, deadline=deadline_from(stops_after(3)))
    assert (second["sent"], second["complete"]) == (3, False)
    assert queue.load_continuation() == NOW  # stopped again: the oldest unfinished run is kept

    third = reminders.send_reminders(app_container, NOW + timedelta(minutes=30),
                                     deadline=deadline_from(CountdownContext(30_000, 0)))
    assert third["complete"] and third["failed"] == 0
    assert queue.load_continuation() is None

    assert Counter(notifier.to) == {f"c{i}@example.com": 1 for i in range(DUE_24H + DUE_2H)}
    for i, request in enumerate(due):
        assert app_container.requests.get(request.id).reminders_sent == (("24h",) if i < DUE_24H else ("24h", "2h"))

    fourth = reminders.send_reminders(app_container, NOW + timedelta(minutes=45))
    assert fourth["sent"] == 0 and len(notifier.to) == DUE_24H + DUE_2H


def test_a_run_out_of_time_before_its_first_reminder_sends_nothing_and_loses_nothing(app_container, due):
    stopped = reminders.send_reminders(app_container, NOW, deadline=deadline_from(stops_after(0)))
    assert (stopped["sent"], stopped["complete"]) == (0, False)
    done = reminders.send_reminders(app_container, NOW + timedelta(minutes=15))
    assert (done["sent"], done["complete"]) == (DUE_24H + DUE_2H, True)


def test_a_continuation_catches_up_one_window_at_most_and_never_for_appointments_begun(app_container, due):
    app_container.reminder_queue.save_continuation(NOW)
    much_later = NOW + timedelta(hours=2)  # the 2 h appointments have started; NOW's 24 h window is 2 h old
    result = reminders.send_reminders(app_container, much_later)
    assert result["complete"] and result["sent"] == 0
    assert app_container.notifier.to == []
