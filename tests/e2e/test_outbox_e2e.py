"""Every message once, over the real local stack, when a sender dies or jobs run together: bookings made over
HTTP, app.py's scheduled jobs run as OS processes of their own (tests/e2e/scheduled_job.py) against the stack's
moto server, with their clocks set where the test needs them, and the mailbox (devtools/mailbox.py) showing what
SES accepted, matched by the outbox's deterministic message id (X-Portal-Message-Id, Message-ID).

- A sender SIGKILLed between claiming a reminder and calling SES: no run sends the reminder while the dead
  sender's lease holds; once it runs out, another sender claims it (and is killed the same way), and the run
  after that lease sends it; a later run sends nothing more. One copy in the mailbox.
- Reminder runs started together in separate processes over bookings due their 24 h and 2 h reminders, then
  senders started together (with SES up, the runs race to record and send; with SES down during the runs, the
  senders race to claim what the runs could not send): one reminder per booking and lead, each with its own
  Message-ID.
"""
from __future__ import annotations

import json
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.clock import system_clock
from chalicelib.domain import messages
from chalicelib.services import reminders
from chalicelib.services.outbox import LEASE
from devtools.processes import LOOPBACK, Child, free_port, python_module, spawn, stop

pytestmark = pytest.mark.e2e

POSTAL_CODES = {"team-nyc": "10001", "team-london": "SW1A 1AA"}  # a location each demo crew covers
# Cleaning: no on-call member does it. From four days ahead: past any emergency window (240 opening minutes from
# now, e.g. a Friday evening's runs into Monday), which the shared stack's emergency tests need free.
SERVICE = "cleaning"
FIRST_DAY, DAYS = 4, 5
SECOND = timedelta(seconds=1)
TOGETHER = 3  # processes of one job started at once
MAIL_WITHIN_SECONDS = 60  # the stream poller sends confirmations on its own schedule


@dataclass(frozen=True)
class Slot:
    team: str
    start: datetime


@dataclass
class Finished:
    code: int
    result: dict | None  # the job's answer; None when it did not get to give one
    output: str


class Jobs:
    """Scheduled jobs as processes against `stack`; whatever is still running at the end is stopped."""

    def __init__(self, stack, log_dir: Path) -> None:
        self.stack, self.log_dir, self.started = stack, log_dir, []

    def start(self, job: str, at: datetime, *args: str, env: dict | None = None) -> tuple[Child, Path]:
        log = self.log_dir / f"{job}-{len(self.started)}.log"
        child = spawn(job, python_module("tests.e2e.scheduled_job", job, "--at", at.isoformat(), *args),
                      {**self.stack.env, **(env or {})}, log_path=log)
        self.started.append(child)
        return child, log

    @staticmethod
    def finish(child: Child, log: Path) -> Finished:
        code = child.process.wait(60)
        output = log.read_text(errors="replace")
        last = output.strip().splitlines()[-1:] if code == 0 else []
        return Finished(code, json.loads(last[0]) if last else None, output[-3000:])

    def run(self, job: str, at: datetime, die_after_claiming: str | None = None) -> Finished:
        return self.finish(*self.start(job, at, *(("--die-after-claiming", die_after_claiming)
                                                   if die_after_claiming else ())))

    def run_together(self, job: str, at: datetime, count: int, env: dict | None = None) -> list[Finished]:
        """`count` runs of `job`, each started once every one of them is imported and connected."""
        go = self.log_dir / f"go-{uuid.uuid4().hex}"
        ready = [go.with_name(f"{go.name}-ready-{i}") for i in range(count)]
        started = [self.start(job, at, "--ready", str(path), "--go", str(go), env=env) for path in ready]
        deadline = time.monotonic() + 60
        while not all(path.exists() for path in ready):
            assert time.monotonic() < deadline and all(child.alive() for child, _ in started), [
                log.read_text()[-2000:] for _, log in started]
            time.sleep(0.02)
        go.touch()
        return [self.finish(child, log) for child, log in started]

    def stop(self) -> None:
        for child in self.started:
            stop(child)


@pytest.fixture
def jobs(stack, tmp_path):
    runner = Jobs(stack, tmp_path)
    yield runner
    runner.stop()


def open_slots(stack, http) -> list[Slot]:
    """Every cleaning slot with room, of both demo crews, on DAYS days from FIRST_DAY after the stack's clock."""
    first = system_clock().date() + timedelta(days=FIRST_DAY)
    window = {"from": first.isoformat(), "to": (first + timedelta(days=DAYS - 1)).isoformat(), "tz": "UTC"}
    slots = []
    for postal_code in POSTAL_CODES.values():
        answer = http.get(stack.url(f"/services/{SERVICE}/availability"), params={**window, "postalCode": postal_code})
        assert answer.status_code == 200, answer.text
        slots += [Slot(s["teamId"], datetime.fromisoformat(s["start"]))
                  for day in answer.json()["days"] for s in day["slots"] if s["remaining"] > 0]
    return sorted(slots, key=lambda s: (s.start, s.team))


def in_window(slots: list[Slot], lead: str, run_at: datetime) -> list[Slot]:
    low, high = reminders.window(lead, run_at)
    return [s for s in slots if low < s.start <= high]


def due_together(slots: list[Slot]) -> tuple[datetime, list[tuple[Slot, str]]]:
    """A reminder run's time and three open slots it reminds of: two of the 24 h lead (of different crews, so
    booking one leaves the other its room) and one of the 2 h lead."""
    for first in slots:
        run_at = first.start - reminders.LEADS["24h"]
        other = [s for s in in_window(slots, "24h", run_at) if s.team != first.team]
        soon = in_window(slots, "2h", run_at)
        if other and soon:
            return run_at, [(first, "24h"), (other[0], "24h"), (soon[0], "2h")]
    raise AssertionError(f"no run time with two crews' 24 h and one 2 h reminder due among {slots}")


def book(stack, http, slot: Slot, who: str = "userA") -> dict:
    """The booking as the API answered it, with `to`: the address its messages go to (one per booking)."""
    to = f"outbox-{uuid.uuid4().hex[:10]}@example.com"
    answer = http.post(stack.url("/portal/service-requests"), headers={
        **stack.auth(who), "Idempotency-Key": uuid.uuid4().hex}, json={
        "serviceId": SERVICE, "teamId": slot.team, "start": slot.start.isoformat(), "paymentMethod": "COD",
        "customerEmail": to, "postalCode": POSTAL_CODES[slot.team]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "CONFIRMED", answer.json()  # reminders are for confirmed bookings
    return {**answer.json(), "to": to}


def reminder_id(booking: dict, lead: str) -> str:
    start = datetime.fromisoformat(booking["start"])
    return messages.message_id(booking["id"], messages.REMINDER_KINDS[lead], str(int(start.timestamp())))


def mailbox(stack, http) -> list[dict]:
    answer = http.get(stack.child("mailbox").url + "/messages")
    assert answer.status_code == 200, answer.text
    return answer.json()


def copies(stack, http, message_id: str) -> list[dict]:
    return [m for m in mailbox(stack, http) if m["messageId"] == message_id]


def confirmed_by_mail(stack, http, bookings: list[dict]) -> None:
    """Waits for each booking's confirmation, so the stack's own sender is done before the jobs start."""
    wanted = {messages.message_id(b["id"], messages.CONFIRMATION, "0") for b in bookings}
    deadline = time.monotonic() + MAIL_WITHIN_SECONDS
    while not wanted <= {m["messageId"] for m in mailbox(stack, http)}:
        assert time.monotonic() < deadline, f"no confirmation for some of {wanted}"
        time.sleep(0.2)


def test_a_sender_killed_between_claim_and_send_still_delivers_the_reminder_once(stack, http, jobs):
    slot = open_slots(stack, http)[0]
    booking = book(stack, http, slot)
    confirmed_by_mail(stack, http, [booking])
    reminder = reminder_id(booking, "24h")
    run_at = slot.start - reminders.LEADS["24h"] + timedelta(minutes=30)  # the booking is due its 24 h reminder

    killed = jobs.run("send_reminders", run_at, die_after_claiming=reminder)  # records it, claims it, dies
    assert killed.code == -signal.SIGKILL, killed.output
    assert copies(stack, http, reminder) == []
    held = jobs.run("send_outbox", run_at + LEASE - SECOND)
    assert held.code == 0 and held.result["complete"], held.output
    assert copies(stack, http, reminder) == []  # the dead sender's lease still holds it
    killed_again = jobs.run("send_outbox", run_at + LEASE + SECOND, die_after_claiming=reminder)
    assert killed_again.code == -signal.SIGKILL, killed_again.output  # claimable again once the lease ran out
    assert copies(stack, http, reminder) == []

    after_both_leases = run_at + 2 * LEASE + 2 * SECOND
    sender = jobs.run("send_outbox", after_both_leases)
    assert sender.code == 0 and sender.result["sent"] >= 1, sender.output
    [delivered] = copies(stack, http, reminder)
    assert delivered["to"] == booking["to"] and delivered["id"].startswith(f"<{reminder}@")
    again = jobs.run("send_outbox", after_both_leases + LEASE + SECOND)  # the mark, not a lease, stops it now
    assert again.code == 0 and again.result["sent"] == 0, again.output
    assert len(copies(stack, http, reminder)) == 1


def ses_down() -> dict:
    """Environment of a job whose every SES call fails at once: nothing listens at its endpoint, no retries."""
    return {"SES_ENDPOINT": f"http://{LOOPBACK}:{free_port()}", "AWS_MAX_ATTEMPTS": "1"}


@pytest.mark.parametrize("ses_during_reminder_runs", ["up", "down"])
def test_reminder_runs_then_senders_started_together_send_each_reminder_once(stack, http, jobs,
                                                                             ses_during_reminder_runs):
    """SES up: the reminder runs race to record the reminders (and send them at once). SES down: every run's
    send fails, so the senders started together afterwards race to claim the same due reminders."""
    run_at, due = due_together(open_slots(stack, http))
    bookings = [(book(stack, http, slot, who), lead) for (slot, lead), who in zip(due, ("userA", "userB", "userA"))]
    confirmed_by_mail(stack, http, [b for b, _ in bookings])
    mine = {reminder_id(b, lead) for b, lead in bookings}

    down = ses_during_reminder_runs == "down"
    runs = jobs.run_together("send_reminders", run_at, TOGETHER, env=ses_down() if down else None)
    assert all(r.code == 0 and r.result["complete"] for r in runs), [r.output for r in runs]
    outcome = "deferred" if down else "sent"
    assert sum(r.result[outcome] for r in runs) >= len(bookings), [r.result for r in runs]
    assert not down or mine.isdisjoint(m["messageId"] for m in mailbox(stack, http))
    senders = jobs.run_together("send_outbox", run_at + LEASE + SECOND, TOGETHER)  # past every retry's backoff
    assert all(s.code == 0 and s.result["complete"] for s in senders), [s.output for s in senders]
    assert not down or sum(s.result["sent"] for s in senders) >= len(bookings), [s.result for s in senders]

    mail = mailbox(stack, http)
    for booking, lead in bookings:
        reminders_of = [m["messageId"] for m in mail
                        if (m["messageId"] or "").startswith(f"{booking['id']}.reminder-")]
        assert reminders_of == [reminder_id(booking, lead)]
    message_ids = [m["id"] for m in mail if m["messageId"] in mine]
    assert len(message_ids) == len(set(message_ids)) == len(bookings)
