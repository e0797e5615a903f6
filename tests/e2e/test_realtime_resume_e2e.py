"""A websocket client that stays connected (heartbeat) and one that resumes: every push carries the change
feed's cursor, so after a reconnect the client catches up with /availability/changes?since=<last cursor>."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from websockets.sync.client import connect

from tests.e2e.test_realtime_e2e import SERVICE, TEAM, next_frame, nyc_afternoon_slot, remaining_at, ws_url

pytestmark = pytest.mark.e2e

CATCH_UP_SECONDS = 20


def book(stack, http, start) -> dict:
    booked = http.post(stack.url("/portal/service-requests"),
                       headers={**stack.auth("userA"), "Idempotency-Key": str(uuid.uuid4())},
                       json={"serviceId": SERVICE, "teamId": TEAM, "start": start.isoformat(), "paymentMethod": "COD",
                             "postalCode": "10001"})
    assert booked.status_code == 201, booked.text
    return booked.json()


def catch_up(stack, http, since: str) -> dict:
    """Polls the feed from `since` until it has something: it serves a change once it is a few seconds old
    (services.realtime.SETTLE), so that no later poll can find an older one; 304 until then."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        feed = http.get(stack.url(f"/services/{SERVICE}/availability/changes"), params={"since": since})
        if feed.status_code == 200:
            return feed.json()
        assert feed.status_code == 304, feed.text
        assert time.monotonic() < deadline, f"the feed served nothing after {since} within {CATCH_UP_SECONDS}s"
        time.sleep(0.5)


def test_heartbeat_is_answered_over_the_dev_gateway(stack):
    with connect(ws_url(stack, stack.tokens["userB"]), open_timeout=10) as ws:
        ws.send(json.dumps({"action": "ping"}))
        assert next_frame(ws, "pong") == {"type": "pong"}


def test_a_client_that_reconnects_catches_up_from_its_last_cursor(stack, http):
    day, start, before = nyc_afternoon_slot(stack, http)
    with connect(ws_url(stack, stack.tokens["userB"]), open_timeout=10) as ws:
        ws.send(json.dumps({"action": "subscribe", "serviceId": SERVICE, "from": day, "to": day}))
        next_frame(ws, "subscribed")
        book(stack, http, start)
        pushed = next_frame(ws, "availability.changed", serviceId=SERVICE, date=day, teamId=TEAM)
        last_cursor = pushed["cursor"]
        assert remaining_at(pushed["slots"], start) == before - 1

    missed = book(stack, http, start)  # while the client is away: nobody pushes it to the client

    with connect(ws_url(stack, stack.tokens["userB"]), open_timeout=10) as ws:
        ws.send(json.dumps({"action": "subscribe", "serviceId": SERVICE, "from": day, "to": day}))
        next_frame(ws, "subscribed")
        feed = catch_up(stack, http, last_cursor)
        caught_up = [c for c in feed["changes"] if c["date"] == day and c["teamId"] == TEAM]
        assert caught_up and all(c["cursor"] > last_cursor for c in caught_up)
        assert remaining_at(caught_up[-1]["slots"], start) == before - 2
        assert feed["reset"] is False
    cancel = http.post(stack.url(f"/portal/service-requests/{missed['id']}/cancel"), headers=stack.auth("userA"),
                       json={})
    assert cancel.status_code == 200
