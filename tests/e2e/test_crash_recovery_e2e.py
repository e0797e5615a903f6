"""Exactly once when the API process dies with bookings in flight, over real HTTP against `make run`.

Clients book a few slots concurrently, one Idempotency-Key each; the API is killed (SIGKILL) while requests are in
flight and the supervisor restarts it (moto keeps the data). Every client then replays its submission as an
offline queue does — same key, same body — until it gets a final answer. Afterwards: no key has two bookings, no
key is answered 409 while its booking exists, every 201 names the one booking of its key, and no slot holds more
bookings than it had room for.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
import requests

from devtools import background
from tests.e2e.test_local_stack_supervision import _api_pid, _wait

pytestmark = pytest.mark.e2e

SERVICE_ID = "cleaning"
SLOTS = 4
CLIENTS_PER_SLOT = 8
FINAL_WITHIN_SECONDS = 240  # covers the restart and the in-progress records of killed attempts expiring
RETRY_STATUSES = {429, 500, 502, 503, 504}
POSTAL_CODES = {"team-nyc": "10001", "team-london": "SW1A 1AA"}  # a location each demo crew covers


@dataclass
class Client:
    user: str
    token: str
    start: str
    team: str  # the team whose slot it is (availability names it; the booking asks for it)
    key: str = field(default_factory=lambda: f"crash-{uuid.uuid4()}")
    answers: list[tuple[int | None, dict | None]] = field(default_factory=list)

    @property
    def final(self) -> tuple[int | None, dict | None]:
        return self.answers[-1] if self.answers else (None, None)


@pytest.fixture
def make_run(tmp_path):
    stack = background.start(tmp_path / "run.log")
    try:
        yield stack
    finally:
        stack.stop()


def token_for(user: str) -> str:
    from chalicelib.adapters import dev_tokens
    from devtools.environment import LOCAL_SECRETS

    # The stack keeps a secret it inherits from the environment (the suite sets one) and defaults the rest.
    return dev_tokens.issue(os.environ.get("DEV_TOKEN_SECRET") or LOCAL_SECRETS["DEV_TOKEN_SECRET"], user)


def free_slots(base: str) -> list[dict]:
    """SLOTS open slots with room, on different days (a booking fills only its own slot and day)."""
    first = datetime.now(timezone.utc).date() + timedelta(days=3)
    window = {"tz": "UTC", "from": first.isoformat(), "to": (first + timedelta(days=13)).isoformat()}
    answer = requests.get(f"{base}/services/{SERVICE_ID}/availability", params=window, timeout=30).json()
    picked = []
    for day in answer["days"]:
        room = [s for s in day["slots"] if s["remaining"] > 0]
        if room:
            picked.append(room[len(room) // 2])
        if len(picked) == SLOTS:
            return picked
    raise AssertionError(f"fewer than {SLOTS} days with room: {answer}")


def submit(base: str, client: Client, session: requests.Session) -> tuple[int | None, dict | None, float]:
    """One attempt: (status or None when the connection failed, body, seconds to wait before a retry)."""
    try:
        response = session.post(f"{base}/portal/service-requests", timeout=60,
                                json={"serviceId": SERVICE_ID, "start": client.start, "teamId": client.team,
                                      "paymentMethod": "COD", "postalCode": POSTAL_CODES[client.team]},
                                headers={"Authorization": f"Bearer {client.token}", "Idempotency-Key": client.key})
    except requests.RequestException:
        return None, None, 1.0
    body = response.json() if response.content else None
    return response.status_code, body, float(response.headers.get("Retry-After") or 1)


def until_final(base: str, client: Client, deadline: float) -> None:
    """Replay the submission until it gets an answer a retry would not change."""
    with requests.Session() as session:
        while time.monotonic() < deadline:
            status, body, wait = submit(base, client, session)
            client.answers.append((status, body))
            in_progress = status == 409 and body and body["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"
            if status is not None and status not in RETRY_STATUSES and not in_progress:
                return
            time.sleep(min(wait, 5))


def own_bookings(base: str, client: Client) -> list[dict]:
    items = requests.get(f"{base}/portal/service-requests", timeout=30,
                         headers={"Authorization": f"Bearer {client.token}"}).json()["items"]
    return [r for r in items if r["status"] in ("CONFIRMED", "PENDING_PAYMENT")]


@pytest.mark.timeout(600)
def test_killing_the_api_with_bookings_in_flight_books_each_key_at_most_once(make_run):
    base = make_run.base_url
    slots = free_slots(base)
    clients = [Client(user=f"crash-user-{n}", token=token_for(f"crash-user-{n}"), start=slot["start"],
                      team=slot["teamId"])
               for n, slot in enumerate(s for s in slots for _ in range(CLIENTS_PER_SLOT))]
    first_answer = threading.Event()
    deadline = time.monotonic() + FINAL_WITHIN_SECONDS

    def run(client: Client) -> None:
        with requests.Session() as session:
            status, body, _ = submit(base, client, session)
            client.answers.append((status, body))
        first_answer.set()
        if status is None or status in RETRY_STATUSES or (
                status == 409 and body["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"):
            until_final(base, client, deadline)

    old_pid = _api_pid(base)
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        futures = [pool.submit(run, c) for c in clients]
        assert first_answer.wait(60), "no answer at all before the kill"
        os.kill(old_pid, signal.SIGKILL)  # the others are in flight
        for future in futures:
            future.result()
    _wait(lambda: _api_pid(base) != old_pid, 30, "the restarted API")

    interrupted = [c for c in clients if c.answers[0][0] is None or c.answers[0][0] >= 500]
    assert interrupted, "the kill interrupted no request: nothing was tested"
    by_slot: dict[str, list[dict]] = {}
    for client in clients:
        status, body = client.final
        assert status in (201, 409), f"{client.key}: no final answer: {client.answers}"
        bookings = own_bookings(base, client)
        assert len(bookings) <= 1, f"{client.key} booked twice: {bookings}"
        if status == 201:
            assert [b["id"] for b in bookings] == [body["id"]], f"{client.key}: the 201 is not its booking"
            by_slot.setdefault((client.start, client.team), []).extend(bookings)
        else:
            assert body["error"]["code"] in ("SLOT_FULL", "TEAM_DAY_FULL", "SLOT_UNAVAILABLE"), body
            assert bookings == [], f"{client.key}: answered {body['error']['code']} but its booking exists"
    for slot in slots:
        assert len(by_slot.get((slot["start"], slot["teamId"]), [])) <= slot["remaining"], f"{slot} overbooked"
    assert sum(len(b) for b in by_slot.values()) == sum(s["remaining"] for s in slots)  # every slot filled
