"""Which request changes produce which owner frames, and that a frame only ever names the request's owner."""
from __future__ import annotations

import json

import pytest

from chalicelib.services.realtime_owner import owner_frames, owner_updates
from chalicelib.services.realtime_stream import publish_changes
from tests.unit.test_realtime_stream import Deps, RecordingPublisher, record

BASE = {"id": "sr_1", "userId": "user-a", "serviceId": "cleaning", "teamId": "t1", "memberId": "m1",
        "localDate": "2026-12-01", "start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z",
        "status": "CONFIRMED", "paymentStatus": "PAID", "sequence": 0, "cells": ["2026-12-01T14:00Z"],
        "payment": {"amountRefunded": None}}


def doc(**changes):
    return {**BASE, **changes}


def types(old, new):
    return [f["type"] for f in owner_frames(old, new)]


@pytest.mark.parametrize("changes, expected", [
    ({"status": "CANCELLED"}, ["booking.updated"]),
    ({"start": "2026-12-02T14:00:00Z", "end": "2026-12-02T15:00:00Z", "localDate": "2026-12-02", "sequence": 1},
     ["booking.updated"]),
    ({"memberId": "m2"}, ["booking.updated"]),
    ({"teamId": "t2"}, ["booking.updated"]),
    ({"paymentStatus": "REFUND_PENDING"}, ["payment.updated"]),
    ({"payment": {"amountRefunded": 500}}, ["payment.updated"]),  # a second partial refund, same status
    ({"status": "CANCELLED", "paymentStatus": "REFUND_PENDING"}, ["booking.updated", "payment.updated"]),
    ({"notes": "ring twice", "remindersSent": ["24h"]}, []),  # nothing the customer is told about
])
def test_which_changes_produce_which_events(changes, expected):
    assert types(doc(), doc(**changes)) == expected


def test_frame_shapes():
    booking, payment = owner_frames(doc(), doc(status="CANCELLED", sequence=2, paymentStatus="PARTIALLY_REFUNDED",
                                               payment={"amountRefunded": 1500}))
    assert booking == {"type": "booking.updated", "id": "sr_1", "status": "CANCELLED",
                       "start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z", "sequence": 2,
                       "changed": ["status"]}
    assert payment == {"type": "payment.updated", "id": "sr_1", "paymentStatus": "PARTIALLY_REFUNDED",
                       "amountRefunded": 1500}
    # No refund yet: the field is left out rather than sent as null.
    assert "amountRefunded" not in owner_frames(doc(paymentStatus="PENDING"), doc())[0]


def image(d):
    return {"doc": json.dumps(d)}


def test_updates_go_to_the_owner_only_and_ownerless_or_new_or_removed_requests_are_skipped():
    updates = owner_updates([
        {"old": image(doc()), "new": image(doc(status="CANCELLED"))},
        {"old": image(doc(id="sr_2", userId="user-b")), "new": image(doc(id="sr_2", userId="user-b",
                                                                           paymentStatus="REFUNDED"))},
        {"old": image(doc(id="sr_3", userId=None)), "new": image(doc(id="sr_3", userId=None, status="CANCELLED"))},
        {"old": image(doc(id="sr_4", userId="user-a")), "new": image(doc(id="sr_4", userId="user-c",
                                                                           status="CANCELLED"))},
        {"old": None, "new": image(doc(id="sr_5"))},  # INSERT
        {"old": image(doc(id="sr_6")), "new": None},  # REMOVE
        {"old": {"doc": "not json"}, "new": image(doc(id="sr_7", status="CANCELLED"))},
    ])
    assert [(user, frame["type"], frame["id"]) for user, frame in updates] == [
        ("user-a", "booking.updated", "sr_1"), ("user-b", "payment.updated", "sr_2")]


def ddb_image(d):
    return {"doc": {"S": json.dumps(d)}}


def test_the_stream_consumer_hands_owner_frames_to_the_publisher():
    publisher = RecordingPublisher()
    summary = publish_changes(Deps(publisher), [
        record("MODIFY", old=ddb_image(doc()), new=ddb_image(doc(status="CANCELLED", paymentStatus="REFUNDED")))])
    assert ("owners", [("user-a", "booking.updated"), ("user-a", "payment.updated")]) in publisher.calls
    assert summary["ownerFrames"] == 2
