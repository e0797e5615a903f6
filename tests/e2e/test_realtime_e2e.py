"""Realtime over the real local stack: a websocket client on the dev gateway sees bookings and cancellations
made over HTTP on the local API; the gateway's management API answers like API Gateway's."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.e2e

SERVICE = "cleaning"
TEAM = "team-nyc"
TZ = "America/New_York"
PUSH_DEADLINE_SECONDS = 2.0  # the product promise: other viewers see the change within 2 s


def ws_url(stack, token: str | None) -> str:
    stack.require("ws-gateway")
    base = stack.env["WEBSOCKET_URL"]
    return f"{base}/?token={token}" if token else base


def recv_json(ws, timeout: float = PUSH_DEADLINE_SECONDS) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def next_frame(ws, kind: str, timeout: float = PUSH_DEADLINE_SECONDS, **match) -> dict:
    """The next frame of `kind` whose fields equal `match` (other frames are skipped); raises TimeoutError."""
    deadline = datetime.now() + timedelta(seconds=timeout)
    while True:
        left = (deadline - datetime.now()).total_seconds()
        if left <= 0:
            raise TimeoutError(f"no {kind} frame matching {match} within {timeout}s")
        frame = recv_json(ws, left)
        if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


def remaining_at(slots: list[dict], start: datetime) -> int:
    return next(s["remaining"] for s in slots if datetime.fromisoformat(s["start"]) == start)


def nyc_afternoon_slot(stack, http) -> tuple[str, datetime, int]:
    """A bookable NYC-afternoon slot (London is closed then, so the public count is the NYC team's alone)."""
    first = date.today() + timedelta(days=5)
    r = http.get(stack.url(f"/services/{SERVICE}/availability"),
                 params={"from": first.isoformat(), "to": (first + timedelta(days=20)).isoformat(), "tz": TZ})
    assert r.status_code == 200, r.text
    for day in reversed(r.json()["days"]):
        for slot in day["slots"]:
            start = datetime.fromisoformat(slot["start"])
            if start.hour >= 13 and slot["remaining"] >= 1:
                return day["date"], start, slot["remaining"]
    pytest.fail("no bookable NYC afternoon slot in the demo data")


def test_booking_and_cancel_push_remaining_counts_to_subscribers_and_the_owner(stack, http):
    day, start, before = nyc_afternoon_slot(stack, http)
    with connect(ws_url(stack, stack.tokens["userB"]), open_timeout=10) as ws, \
            connect(ws_url(stack, stack.tokens["userA"]), open_timeout=10) as mine:
        ws.send(json.dumps({"action": "subscribe", "serviceId": SERVICE, "from": day, "to": day}))
        assert next_frame(ws, "subscribed") == {"type": "subscribed", "serviceId": SERVICE, "from": day, "to": day}

        booked = http.post(stack.url("/portal/service-requests"),
                           headers={**stack.auth("userA"), "Idempotency-Key": str(uuid.uuid4())},
                           json={"serviceId": SERVICE, "teamId": TEAM, "start": start.isoformat(),
                                 "paymentMethod": "COD", "postalCode": "10001"})
        assert booked.status_code == 201, booked.text
        pushed = next_frame(ws, "availability.changed", serviceId=SERVICE, date=day, teamId=TEAM)
        assert remaining_at(pushed["slots"], start) == before - 1

        cancelled = http.post(stack.url(f"/portal/service-requests/{booked.json()['id']}/cancel"),
                              headers=stack.auth("userA"), json={"reason": "changed my mind"})
        assert cancelled.status_code == 200, cancelled.text
        restored = next_frame(ws, "availability.changed", serviceId=SERVICE, date=day, teamId=TEAM)
        assert remaining_at(restored["slots"], start) == before
        # The customer's own connection hears about their booking (the other customer's is covered in
        # tests/integration/test_realtime_owner_push.py: nothing reaches it).
        update = next_frame(mine, "booking.updated", id=booked.json()["id"])
        assert (update["status"], update["changed"]) == ("CANCELLED", ["status"])


def test_connect_with_a_bad_token_is_refused_at_the_handshake(stack):
    for token in ("not-a-token", None):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(stack, token), open_timeout=10)
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body)["error"]["code"] == "UNAUTHENTICATED"


def test_invalid_frame_gets_an_error_frame_and_the_connection_survives(stack):
    with connect(ws_url(stack, stack.tokens["userA"]), open_timeout=10) as ws:
        ws.send("{broken")
        assert next_frame(ws, "error")["error"]["code"] == "VALIDATION_ERROR"
        ws.send(json.dumps({"action": "subscribe", "serviceId": "no-such-service", "from": "2030-01-01",
                            "to": "2030-01-01"}))
        assert next_frame(ws, "error")["error"]["code"] == "NOT_FOUND"


def test_management_api_delivers_to_live_connections_and_reports_gone_ones(stack, http):
    """The app's own management client (real botocore) against the gateway: 200 delivers, 410 means gone."""
    from chalicelib.adapters.realtime import ManagementApiPusher

    management = stack.env["WEBSOCKET_MANAGEMENT_ENDPOINT"]
    pusher = ManagementApiPusher(stack.settings.region, management)
    assert pusher.send("Tm9TdWNoQ29ubg==", b'{"type":"ping"}') is False
    before = set(http.get(f"{management}/@connections").json()["connections"])
    with connect(ws_url(stack, stack.tokens["admin"]), open_timeout=10) as ws:
        ws.send(json.dumps({"action": "unsubscribe", "serviceId": SERVICE}))
        next_frame(ws, "unsubscribed")  # the connection is registered by now
        (connection_id,) = set(http.get(f"{management}/@connections").json()["connections"]) - before
        assert pusher.send(connection_id, b'{"type":"hello"}') is True
        assert next_frame(ws, "hello") == {"type": "hello"}
    assert pusher.send(connection_id, b'{"type":"hello"}') is False  # closed: gone
