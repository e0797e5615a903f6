"""The local requests-stream poller (devtools/stream_poller.py) against in-process moto: it hands the app's stream
handler Lambda-shaped batches of every change after its starting position, once each, resumes after a restart
where it stopped, and survives a failing handler."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import boto3
import pytest

from chalicelib.services.realtime_stream import changes_in
from devtools import moto_streams
from devtools.run import requests_stream_arn
from devtools.stream_poller import MAX_ATTEMPTS, Checkpoint, StreamPoller, lambda_event
from tests.integration.test_booking_api import api, book, small_catalog, users  # noqa: F401 - fixtures

DAY = "2026-12-01"


class Recorder:
    def __init__(self, failures: int = 0) -> None:
        self.events: list[dict] = []
        self.failures = failures

    def __call__(self, event: dict) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("consumer down")
        self.events.append(event)

    def records(self) -> list[dict]:
        return [record for event in self.events for record in event["Records"]]


def poller(settings, handler, checkpoint_path=None) -> StreamPoller:
    arn = requests_stream_arn(settings)
    # botocore would address the streams endpoint by account (the ARN's), which in-process moto does not serve
    client = boto3.client("dynamodbstreams", region_name="us-east-1",
                          endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    started = StreamPoller(client, arn, handler, Checkpoint(checkpoint_path, arn), sleep=lambda _: None)
    started.start()
    return started


def hour(n: int) -> str:
    return f"{DAY}T{n:02d}:00:00-05:00"


def booked_hours(records: list[dict]) -> list[int]:
    """New York hours of the bookings the records carry (startKey is "<UTC start>#<id>"; New York is UTC-5)."""
    return [int(r["dynamodb"]["NewImage"]["startKey"]["S"][11:13]) - 5 for r in records]


def test_a_booking_reaches_the_handler_as_a_lambda_event_the_app_reads(api, users, settings):
    handler = Recorder()
    stream = poller(settings, handler)
    assert book(api, users["a"], "k1", start=hour(9)).status_code == 201

    assert stream.poll_once() == 1
    (record,) = handler.records()
    assert record["eventName"] == "INSERT" and record["eventSourceARN"] == requests_stream_arn(settings)
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)
    assert changes_in(handler.records()) == ({"t1": {DAY}}, [])
    assert stream.poll_once() == 0 and len(handler.events) == 1  # delivered once
    assert (stream.handled, stream.empty_polls) == (1, 1)


def test_changes_before_the_start_are_not_delivered(api, users, settings):
    assert book(api, users["a"], "before", start=hour(9)).status_code == 201
    handler = Recorder()
    stream = poller(settings, handler)
    assert stream.poll_once() == 0
    assert book(api, users["a"], "after", start=hour(10)).status_code == 201
    assert stream.poll_once() == 1
    assert booked_hours(handler.records()) == [10]


def test_a_restarted_poller_resumes_after_the_last_handled_record(api, users, settings, tmp_path):
    checkpoint = tmp_path / "stream-poller.json"
    first = Recorder()
    stream = poller(settings, first, checkpoint)
    assert book(api, users["a"], "one", start=hour(9)).status_code == 201
    assert stream.poll_once() == 1
    for n, key in ((10, "two"), (11, "three")):  # written while no poller runs
        assert book(api, users["a"], key, start=hour(n)).status_code == 201

    second = Recorder()
    assert poller(settings, second, checkpoint).poll_once() == 2
    assert booked_hours(second.records()) == [10, 11]


def test_a_failing_batch_is_retried_then_skipped_and_later_batches_still_arrive(api, users, settings):
    handler = Recorder(failures=MAX_ATTEMPTS)
    stream = poller(settings, handler)
    assert book(api, users["a"], "lost", start=hour(9)).status_code == 201
    assert stream.poll_once() == 1 and handler.events == []
    assert book(api, users["a"], "next", start=hour(10)).status_code == 201
    assert stream.poll_once() == 1 and len(handler.records()) == 1


def test_a_batch_that_fails_less_often_than_the_limit_is_delivered(api, users, settings):
    handler = Recorder(failures=MAX_ATTEMPTS - 1)
    stream = poller(settings, handler)
    assert book(api, users["a"], "retried", start=hour(9)).status_code == 201
    assert stream.poll_once() == 1 and len(handler.records()) == 1


def test_event_values_are_what_lambda_sends():
    at = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)
    event = lambda_event([{"dynamodb": {"ApproximateCreationDateTime": at, "NewImage": {"b": {"B": b"\x00\xff"}},
                                        "SequenceNumber": "7"}}], "arn:stream")
    assert event == {"Records": [{"eventSourceARN": "arn:stream", "dynamodb": {
        "ApproximateCreationDateTime": at.timestamp(), "NewImage": {"b": {"B": base64.b64encode(b"\x00\xff").decode()}},
        "SequenceNumber": "7"}}]}


def test_moto_keeps_a_bounded_number_of_shard_iterators(tables, settings, monkeypatch):
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, dynamodbstreams_backends

    monkeypatch.setattr(DynamoDBStreamsBackend, "get_records", moto_streams.moto_get_records)
    monkeypatch.setattr(moto_streams, "MAX_ITERATORS", 5)
    moto_streams.install()
    stream = poller(settings, Recorder())
    for _ in range(20):
        stream.poll_once()
    backend = dynamodbstreams_backends["123456789012"]["us-east-1"]
    assert 1 <= len(backend.shard_iterators) <= 5
    assert stream.poll_once() == 0  # the newest iterator still works
