"""Test controls under /_stub (JSON in, JSON out): reset, config, faults, clock, expiry, the hosted page's
actions, deliveries and statistics. docs/stripe-stub.md lists them; StubClient calls them."""
from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import parse_qsl

from devtools.stripe_stub.account import StripeStub
from devtools.stripe_stub.errors import ApiError

SESSION_ACTION_PATH = re.compile(r"^/_stub/sessions/([^/]+)/(pay|settle|refund|dispute)$")
DISPUTE_CLOSE_PATH = re.compile(r"^/_stub/disputes/([^/]+)/close$")

# A control gets (stub, HTTP method, JSON body, query string) and returns the JSON answer.
Control = Callable[[StripeStub, str, dict, str], Any]
ANY_METHOD = ("GET", "POST", "DELETE")  # every method the handler serves


def run_control(stub: StripeStub, method: str, path: str, query: str, body: str) -> Any:
    data = json.loads(body) if body.strip() else {}
    if not isinstance(data, dict):
        raise ApiError(400, "Send a JSON object.")
    methods, control = _CONTROLS.get(path, ((), None))
    if control is not None and method in methods:
        return control(stub, method, data, query)
    if method == "POST" and (match := SESSION_ACTION_PATH.match(path)):
        return _session_action(stub, *match.groups(), data)
    if method == "POST" and (match := DISPUTE_CLOSE_PATH.match(path)):
        return _close_dispute(stub, match.group(1), data)
    raise ApiError(404, f"Unknown stub control: {method} {path}")


def _wants_delivery(data: dict) -> bool:
    return data.get("deliver", True) is not False


def _health(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    return {"ok": True}


def _reset(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    stub.flush()
    stub.reset()
    if data:
        stub.configure(data)
    return {"reset": True}


def _config(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    if method == "POST":
        stub.configure(data)
    return {"webhook_url": stub.webhook_url, "public_base_url": stub.public_base_url}


def _faults(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    if method == "POST":
        return stub.set_faults(data)
    if method == "DELETE":
        return stub.set_faults({})
    return stub.faults.public()


def _clock(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    if method == "POST":
        stub.set_clock(data)
    return {"now": stub.now(), "offset_seconds": stub.clock_offset}


def _expire(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    if data.get("session_id"):  # force one session, whatever its expires_at
        _, events = stub.expire_session(data["session_id"])
    else:
        events = stub.sweep_expired()
    deliveries = stub.dispatch(events, wait=_wants_delivery(data))
    return {"events": events, "deliveries": deliveries}


def _deliveries(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    return {"data": stub.delivery_log(dict(parse_qsl(query)).get("event_id"))}


def _redeliver(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    stub.flush()  # a background delivery still in flight would otherwise be sent twice
    return {"deliveries": stub.redeliver(data.get("event_id"))}


def _flush(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    stub.flush()
    return {"flushed": True}


def _stats(stub: StripeStub, method: str, data: dict, query: str) -> Any:
    return stub.request_stats()


def _session_action(stub: StripeStub, session_id: str, action: str, data: dict) -> Any:
    """POST /_stub/sessions/{id}/pay|settle|refund|dispute: the customer's (or the dashboard's, or the
    cardholder's bank's) action, as JSON. `object` is the session, or what the action made (refund, dispute)."""
    stub.expire_overdue(wait=True)  # a session past expires_at cannot be paid
    if action == "pay":
        session, events = stub.pay(session_id, data.get("outcome", "paid"))
    elif action == "settle":
        session, events = stub.settle(session_id, data.get("result", "succeeded"))
    elif action == "dispute":
        session, events = stub.dispute_session(session_id, str(data.get("reason") or "fraudulent"))
    else:
        session, events = stub.refund_session(session_id, data.get("amount"))
    # deliver=false leaves the events undelivered (a lost webhook, for reconciliation tests)
    deliveries = stub.dispatch(events, wait=True) if _wants_delivery(data) else []
    return {"object": session, "events": events, "deliveries": deliveries}


def _close_dispute(stub: StripeStub, dispute_id: str, data: dict) -> Any:
    """POST /_stub/disputes/{id}/close {"outcome": "won" | "lost"}: the bank's decision."""
    dispute, events = stub.close_dispute(dispute_id, str(data.get("outcome")))
    deliveries = stub.dispatch(events, wait=True) if _wants_delivery(data) else []
    return {"object": dispute, "events": events, "deliveries": deliveries}


_CONTROLS: dict[str, tuple[tuple[str, ...], Control]] = {
    "/_stub/health": (ANY_METHOD, _health),
    "/_stub/reset": (("POST",), _reset),
    "/_stub/config": (ANY_METHOD, _config),
    "/_stub/faults": (ANY_METHOD, _faults),
    "/_stub/clock": (ANY_METHOD, _clock),
    "/_stub/expire": (("POST",), _expire),
    "/_stub/deliveries": (("GET",), _deliveries),
    "/_stub/redeliver": (("POST",), _redeliver),
    "/_stub/flush": (("POST",), _flush),
    "/_stub/stats": (("GET",), _stats),
}
