"""Events: what state changes emit (a snapshot of the object), and `GET /v1/events` with Stripe's filters."""
from __future__ import annotations

import copy
from typing import Any

from devtools.stripe_stub.errors import ApiError
from devtools.stripe_stub.ids import new_id
from devtools.stripe_stub.params import created_filter, paginate

API_VERSION = "2026-10-28.endive"  # the version stripe-python 16.1 pins; stamped on events


class Events:
    """Part of StripeStub (account.py), which owns the lock, the clock, the webhook URL and the `events` /
    `event_order` stores."""

    def _emit_locked(self, type_: str, obj: dict, previous_attributes: dict | None = None) -> str:
        """Record an event about obj as it is now; returns its id (delivery is the caller's choice)."""
        event_id = new_id("evt_")
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        self.events[event_id] = {
            "id": event_id, "object": "event", "api_version": API_VERSION, "created": self.now(), "data": data,
            "livemode": False, "pending_webhooks": 1 if self.webhook_url else 0,
            "request": {"id": None, "idempotency_key": None}, "type": type_,
        }
        self.event_order.append(event_id)
        return event_id

    def list_events(self, params: dict) -> dict:
        created = created_filter(params)
        delivery = params.get("delivery_success")
        if delivery not in (None, "true", "false"):
            raise ApiError(400, "Invalid boolean: delivery_success", param="delivery_success")
        type_filter, types = params.get("type"), params.get("types")
        if type_filter is not None and types is not None:
            raise ApiError(400, "You may pass either `type` or `types`, but not both.", param="types")
        if types is not None and (not isinstance(types, list) or len(types) > 20):
            raise ApiError(400, "types is an array of up to 20 event types.", param="types")
        patterns = [type_filter] if type_filter is not None else types

        def wanted(event: dict) -> bool:
            if not created(event["created"]):
                return False
            if delivery == "false" and event["pending_webhooks"] == 0:
                return False
            if delivery == "true" and event["pending_webhooks"] > 0:
                return False
            return patterns is None or any(_type_matches(p, event["type"]) for p in patterns)

        with self.lock:
            items = [self.events[eid] for eid in reversed(self.event_order) if wanted(self.events[eid])]
            return paginate(items, params, "/v1/events", "event")

    def get_event(self, event_id: str) -> dict:
        return self.get_object("events", "event", event_id)


def _type_matches(pattern: str, event_type: str) -> bool:
    """Stripe's event type filter: exact, or a prefix ending in `*` (`checkout.session.*`)."""
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type
