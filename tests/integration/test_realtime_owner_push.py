"""The requests stream pushes booking/payment changes to the owner's own websocket connections only (moto)."""
from __future__ import annotations

import json

from chalicelib.adapters.dynamodb.models import RealtimeItem
from chalicelib.services.realtime_stream import publish_changes
from tests.integration.test_realtime_handlers import connect, items_of, stack  # noqa: F401 - fixture

BASE = {"id": "sr_1", "userId": "user-a", "serviceId": "svc", "teamId": "t1", "memberId": "m1",
        "localDate": "2030-03-06", "start": "2030-03-06T14:00:00Z", "end": "2030-03-06T15:00:00Z",
        "status": "CONFIRMED", "paymentStatus": "PAID", "sequence": 0, "cells": ["2030-03-06T14:00Z"],
        "payment": {"amountRefunded": None}}


def modify(old: dict, new: dict, event_id: str = "e1") -> dict:
    """A MODIFY record as the stream delivers it (DynamoDB JSON, both images)."""
    return {"eventID": event_id, "eventName": "MODIFY",
            "dynamodb": {"OldImage": {"id": {"S": old["id"]}, "doc": {"S": json.dumps(old)}},
                         "NewImage": {"id": {"S": new["id"]}, "doc": {"S": json.dumps(new)}}}}


def cancelled_and_refunding(**base) -> dict:
    old = {**BASE, **base}
    return modify(old, {**old, "status": "CANCELLED", "paymentStatus": "REFUND_PENDING", "sequence": 1})


def deliver(stack, *records):  # noqa: F811
    """What the stream consumer's Lambda does for realtime, against the moto-backed container."""
    return publish_changes(stack["deps"], list(records))


def test_both_connections_of_the_owner_get_the_push_and_another_users_gets_nothing(stack):  # noqa: F811
    connect(stack, "a-phone")
    connect(stack, "a-laptop")
    connect(stack, "b-phone", user="user-b")
    connect(stack, "admin-1", user="admin-x", groups=["admin"])
    deliver(stack, cancelled_and_refunding())
    for conn in ("a-phone", "a-laptop"):
        assert stack["api"].of_type(conn, "booking.updated") == [
            {"type": "booking.updated", "id": "sr_1", "status": "CANCELLED", "start": BASE["start"],
             "end": BASE["end"], "sequence": 1, "changed": ["status"]}]
        assert stack["api"].of_type(conn, "payment.updated") == [
            {"type": "payment.updated", "id": "sr_1", "paymentStatus": "REFUND_PENDING"}]
    assert stack["api"].frames.get("b-phone") is None
    assert stack["api"].frames.get("admin-1") is None  # admins are not owners either


def test_the_owners_connections_are_found_by_key_on_the_user_channel(stack):  # noqa: F811
    connect(stack, "a-phone")
    assert {i.sk for i in RealtimeItem.query("CHAN#USER#user-a")} == {"a-phone"}


def test_a_record_delivered_twice_pushes_the_same_state_twice(stack):  # noqa: F811
    connect(stack, "a-phone")
    record = cancelled_and_refunding()
    deliver(stack, record)
    deliver(stack, record)
    frames = stack["api"].of_type("a-phone", "booking.updated")
    # At-least-once stream: the duplicate is the same full state (same sequence), so a client applying it twice
    # ends where it was after the first.
    assert len(frames) == 2 and frames[0] == frames[1]


def test_a_record_without_an_owner_is_skipped_and_the_rest_of_the_batch_is_pushed(stack):  # noqa: F811
    connect(stack, "a-phone")
    summary = deliver(stack, cancelled_and_refunding(id="sr_none", userId=None),
                      cancelled_and_refunding(id="sr_2"))
    assert [f["id"] for f in stack["api"].of_type("a-phone", "booking.updated")] == ["sr_2"]
    assert summary["ownerFrames"] == 2


def test_a_gone_connection_of_the_owner_is_removed(stack):  # noqa: F811
    connect(stack, "a-live")
    connect(stack, "a-dead")
    stack["api"].gone.add("a-dead")
    deliver(stack, cancelled_and_refunding())
    assert items_of("a-dead") == []
    assert {i.sk for i in RealtimeItem.query("CHAN#USER#user-a")} == {"a-live"}
    assert len(stack["api"].of_type("a-live", "booking.updated")) == 1


def test_disconnect_removes_the_user_channel_entry(stack):  # noqa: F811
    connect(stack, "a-phone")
    stack["client"].lambda_.invoke("ws_disconnect", _disconnect_event("a-phone"))
    assert list(RealtimeItem.query("CHAN#USER#user-a")) == []


def _disconnect_event(connection_id: str) -> dict:
    from tests.integration.test_realtime_handlers import ws_event
    return ws_event("$disconnect", connection_id)
