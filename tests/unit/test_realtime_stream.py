"""The stream consumer derives exactly the team-days whose capacity changed."""
from __future__ import annotations

import json

from chalicelib.services.realtime_stream import changes_in, publish_changes


def image(**doc):
    base = {"id": "sr_1", "serviceId": "cleaning", "teamId": "t1", "localDate": "2026-12-01", "status": "CONFIRMED",
            "cells": ["2026-12-01T14:00Z"], "priority": "NORMAL"}
    return {"doc": {"S": json.dumps({**base, **doc})}}


def record(event, old=None, new=None):
    data = {}
    if old is not None:
        data["OldImage"] = old
    if new is not None:
        data["NewImage"] = new
    return {"eventName": event, "dynamodb": data}


def test_insert_reschedule_cancel_and_payment_only_changes():
    days, emergencies = changes_in([
        record("INSERT", new=image()),
        record("MODIFY", old=image(id="sr_2", localDate="2026-12-02"),
               new=image(id="sr_2", localDate="2026-12-03", cells=["2026-12-03T14:00Z"])),
        record("MODIFY", old=image(id="sr_3", localDate="2026-12-04"),
               new=image(id="sr_3", localDate="2026-12-04", status="CANCELLED")),
        # A payment-status change holds the same capacity: nothing to push.
        record("MODIFY", old=image(id="sr_4", localDate="2026-12-05"), new=image(id="sr_4", localDate="2026-12-05")),
    ])
    assert days == {"t1": {"2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"}}
    assert emergencies == []


def test_emergency_inserts_are_announced_once():
    days, emergencies = changes_in([record("INSERT", new=image(priority="EMERGENCY")),
                                    record("MODIFY", old=image(priority="EMERGENCY"), new=image(priority="EMERGENCY"))])
    assert [e["id"] for e in emergencies] == ["sr_1"]


def test_garbage_images_are_ignored():
    days, emergencies = changes_in([{"eventName": "INSERT", "dynamodb": {"NewImage": {"doc": {"S": "not json"}}}},
                                    {"eventName": "REMOVE"}])
    assert days == {} and emergencies == []


def test_a_record_without_team_is_skipped_and_reported_and_the_rest_of_the_batch_goes_through(capsys):
    poison = {"doc": {"S": json.dumps({"id": "sr_9", "serviceId": "cleaning", "localDate": "2026-12-09",
                                       "status": "CONFIRMED"})}}  # no teamId
    days, _ = changes_in([record("INSERT", new=poison), record("INSERT", new=image(localDate="2026-12-10"))])
    assert days == {"t1": {"2026-12-10"}}
    from chalicelib.observability import flush
    flush()
    assert '"RealtimeStreamMalformedRecord"' in capsys.readouterr().out


class RecordingPublisher:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def availability_changed(self, service_ids, team_id, local_dates):
        self.calls.append(("availability", tuple(service_ids), team_id, tuple(local_dates)))
        if self.fail:
            raise RuntimeError("gateway down")

    def emergency_created(self, doc):
        self.calls.append(("emergency", doc["id"]))

    def requests_updated(self, updates):
        self.calls.append(("owners", [(user, frame["type"]) for user, frame in updates]))


class Deps:
    def __init__(self, publisher):
        from chalicelib.domain.catalog import Catalog, Money, Service
        service = Service("cleaning", "C", "c", "", 60, 0, 60, 0, Money(1), ("t1",))
        other = Service("plumbing", "P", "p", "", 60, 0, 60, 0, Money(1), ("t1", "t2"))

        class Cache:
            def get(self_inner):
                return Catalog(services={"cleaning": service, "plumbing": other})
        self.catalog = Cache()
        self.stream_publisher = publisher


def test_publish_pushes_every_service_of_the_team_and_survives_push_errors():
    publisher = RecordingPublisher(fail=True)
    summary = publish_changes(Deps(publisher), [record("INSERT", new=image(priority="EMERGENCY"))])
    assert publisher.calls == [("availability", ("cleaning", "plumbing"), "t1", ("2026-12-01",)),
                               ("emergency", "sr_1")]
    assert summary == {"teamDays": 1, "emergencies": 1, "ownerFrames": 0}


def stream_record(event_name, old_doc=None, new_doc=None, sequence="1"):
    """A record as the service-requests stream delivers it: the whole item in DynamoDB JSON, numbers included."""
    def item(doc):
        return {"id": {"S": doc["id"]}, "userId": {"S": "user-a"}, "status": {"S": doc["status"]},
                "teamId": {"S": doc["teamId"]}, "sequence": {"N": "2"}, "rev": {"N": "7"},
                "paymentOpen": {"NULL": True}, "doc": {"S": json.dumps(doc)}}

    data = {"ApproximateCreationDateTime": 1795000000, "Keys": {"id": {"S": (new_doc or old_doc)["id"]}},
            "SequenceNumber": sequence, "SizeBytes": 512, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old_doc:
        data["OldImage"] = item(old_doc)
    if new_doc:
        data["NewImage"] = item(new_doc)
    return {"eventID": f"e{sequence}", "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": data,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/requests/stream/2026-11-01T00:00:00.000"}


def test_whole_stream_records_with_every_attribute_type_are_read():
    booked = json.loads(image(id="sr_9", localDate="2026-12-07", priority="EMERGENCY")["doc"]["S"])
    cancelled = {**booked, "status": "CANCELLED"}
    days, emergencies = changes_in([stream_record("INSERT", new_doc=booked, sequence="1"),
                                    stream_record("MODIFY", old_doc=booked, new_doc=cancelled, sequence="2"),
                                    stream_record("REMOVE", old_doc=cancelled, sequence="3")])
    assert days == {"t1": {"2026-12-07"}}
    assert [e["id"] for e in emergencies] == ["sr_9"]


def test_a_doc_that_is_not_a_json_string_is_ignored():
    days, emergencies = changes_in([record("INSERT", new={"doc": {"M": {"status": {"S": "CONFIRMED"}}}}),
                                    record("INSERT", new={"doc": {"S": ""}})])
    assert days == {} and emergencies == []


def test_the_lambda_entry_point_reads_the_event_records(monkeypatch):
    from chalicelib.api import streams

    publisher = RecordingPublisher()
    monkeypatch.setattr(streams, "container", lambda: Deps(publisher))
    summary = streams.on_requests_stream({"Records": [stream_record("INSERT", new_doc=json.loads(
        image(localDate="2026-12-08")["doc"]["S"]))]})
    assert summary == {"teamDays": 1, "emergencies": 0, "ownerFrames": 0, "messages": 0}  # a partial image: no customer message
    assert publisher.calls == [("availability", ("cleaning", "plumbing"), "t1", ("2026-12-08",))]
