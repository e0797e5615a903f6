"""Capacity under load over real HTTP: 1,000 booking attempts from 50 concurrent clients on a handful of slots.

Exactly the slots' capacity is booked, the counters equal the bookings, nobody is double-booked, and every loser
gets a clean answer (409 SLOT_FULL / TEAM_DAY_FULL / SLOT_UNAVAILABLE, or 429 with Retry-After): no 5xx, no
client timeout. The duration is bounded by the test's timeout; speed targets live in `make bench`.
"""
from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time as wall, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

pytestmark = pytest.mark.e2e

SERVICE_ID = "e2e-load"
TEAM_ID = "team-e2e-load"
NY = ZoneInfo("America/New_York")
CREWS_PER_SLOT = 8
MEMBERS = 10  # more people than crews: the slot capacity is what binds, not the people
DAILY_LIMIT = 200  # far above what the slots hold: the team-day limit does not bind either
ATTEMPTS = 1000
CLIENTS = 50
CLIENT_TIMEOUT_SECONDS = 60
LOSING_CODES = {409: {"SLOT_FULL", "TEAM_DAY_FULL", "SLOT_UNAVAILABLE"}, 429: {"THROTTLED"}}


def slot_starts() -> list[datetime]:
    """Five one-hour slots over two days (hours apart, so no two share a 15-minute cell)."""
    first, second = date.today() + timedelta(days=20), date.today() + timedelta(days=21)
    return [datetime.combine(day, wall(hour), tzinfo=NY)
            for day, hour in ((first, 9), (first, 11), (first, 15), (second, 10), (second, 14))]


@dataclass
class Attempt:
    start: datetime
    user: str
    status: int | None = None  # None: the client timed out
    body: dict | None = None
    retry_after: str | None = None


@pytest.fixture(scope="module")
def load_service(stack):
    return stack.add_service(SERVICE_ID, TEAM_ID, members=MEMBERS, slot_capacity=CREWS_PER_SLOT,
                             daily_limit=DAILY_LIMIT)


@pytest.fixture(scope="module")
def user_tokens(stack) -> dict[str, str]:
    """One customer per client."""
    from chalicelib.adapters import dev_tokens
    return {f"load-user-{n}": dev_tokens.issue(stack.settings.dev_token_secret, f"load-user-{n}")
            for n in range(CLIENTS)}


def run_attempts(stack, user_tokens: dict[str, str], starts: list[datetime]) -> list[Attempt]:
    """CLIENTS threads, each its own user and connection pool, take the next attempt until all are made; every
    attempt has its own Idempotency-Key. The slots take turns, so each slot sees contention from the start."""
    attempts = [Attempt(start=start, user=user) for start, user in
                zip(itertools.islice(itertools.cycle(starts), ATTEMPTS), itertools.cycle(user_tokens))]
    next_index = itertools.count()
    lock = threading.Lock()
    url = stack.url("/portal/service-requests")

    def client(user: str) -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    index = next(next_index)
                if index >= len(attempts):
                    return
                attempt = attempts[index]
                headers = {"Authorization": f"Bearer {user_tokens[attempt.user]}",
                           "Idempotency-Key": f"load-{uuid.uuid4()}"}
                try:
                    response = session.post(url, json={"serviceId": SERVICE_ID, "start": attempt.start.isoformat(),
                                                       "paymentMethod": "COD", "postalCode": "10001"},
                                            headers=headers, timeout=CLIENT_TIMEOUT_SECONDS)
                except requests.Timeout:
                    continue  # status stays None: counted as a timeout
                attempt.status = response.status_code
                attempt.body = response.json() if response.content else None
                attempt.retry_after = response.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(client, list(user_tokens)))
    return attempts


def capacity_items(stack, local_day: str) -> dict[str, int | str]:
    """This team's capacity of one team-local day: "DAY", "S#<cell>", "M#<member>#DAY" -> count,
    "M#<member>#S#<cell>" -> holder (tests/capacity_view.day_view)."""
    from tests.capacity_view import day_view

    stack.bind_models()
    return day_view(TEAM_ID, local_day)


def booked_start(attempt: Attempt) -> datetime:
    return datetime.fromisoformat(attempt.body["start"])


def cells_of(start: datetime) -> list[str]:
    """The 15-minute cells (UTC) a one-hour booking starting at `start` occupies."""
    utc = start.astimezone(ZoneInfo("UTC"))
    return [(utc + timedelta(minutes=15 * n)).strftime("%Y-%m-%dT%H:%MZ") for n in range(4)]


@pytest.mark.timeout(150)
def test_thousand_attempts_from_fifty_clients_book_exactly_the_capacity(stack, load_service, user_tokens):
    starts = slot_starts()
    attempts = run_attempts(stack, user_tokens, starts)

    assert [a for a in attempts if a.status is None] == [], "client timeouts"
    assert [(a.status, a.body) for a in attempts if a.status >= 500] == [], "server errors"
    unexpected = [(a.status, a.body) for a in attempts if a.status != 201 and (
        a.status not in LOSING_CODES or (a.body or {}).get("error", {}).get("code") not in LOSING_CODES[a.status])]
    assert unexpected == []
    assert all(a.retry_after for a in attempts if a.status == 429)

    created = [a for a in attempts if a.status == 201]
    assert len(created) == CREWS_PER_SLOT * len(starts)
    per_slot = Counter(booked_start(a) for a in created)
    assert per_slot == {start: CREWS_PER_SLOT for start in starts}
    for start in starts:
        members = [a.body["memberId"] for a in created if booked_start(a) == start]
        assert len(set(members)) == CREWS_PER_SLOT, "a member was booked twice into one slot"

    for local_day in sorted({start.date().isoformat() for start in starts}):
        items = capacity_items(stack, local_day)
        day_starts = [start for start in starts if start.date().isoformat() == local_day]
        booked_that_day = [a for a in created if booked_start(a).astimezone(NY).date().isoformat() == local_day]
        assert items["DAY"] == len(booked_that_day) == CREWS_PER_SLOT * len(day_starts)
        for start in day_starts:
            for cell in cells_of(start):
                assert items[f"S#{cell}"] == CREWS_PER_SLOT
        locks = {key: holder for key, holder in items.items() if key.startswith("M#") and "#S#" in key}
        assert sorted(set(locks.values())) == sorted(a.body["id"] for a in booked_that_day)
        assert len(locks) == 4 * len(booked_that_day)  # each booking locks its member's four cells
        member_days = {key: n for key, n in items.items() if key.startswith("M#") and key.endswith("#DAY")}
        assert sum(member_days.values()) == len(booked_that_day)

    for attempt in created:  # each booking is stored, confirmed, and its customer's
        token = user_tokens[attempt.user]
        stored = requests.get(stack.url(f"/portal/service-requests/{attempt.body['id']}"),
                              headers={"Authorization": f"Bearer {token}"}, timeout=CLIENT_TIMEOUT_SECONDS)
        assert stored.status_code == 200 and stored.json()["status"] == "CONFIRMED"
