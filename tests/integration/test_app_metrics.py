"""app.py publishes each invocation's metrics once, for every kind of handler, through one middleware; an
invocation that recorded no metric publishes nothing (an empty flush would only log a warning)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from chalice.test import Client

from chalicelib.domain.catalog import Catalog
from chalicelib.observability import count, metrics
from devtools.processes import PROJECT_DIR

SCHEDULED = {"send_reminders": ("calendar", "run_reminders"), "send_outbox": ("calendar", "run_outbox"),
             "expire_holds": ("payments", "expire_holds_job"),
             "reconcile_payments": ("payments", "reconcile_payments_job")}


@pytest.fixture
def flushes(monkeypatch):
    """The metric names of each flush, in order."""
    metrics.clear_metrics()  # services called directly by other tests may have left metrics behind
    published: list[list[str]] = []
    original = metrics.flush_metrics

    def recording_flush(*args, **kwargs):
        published.append(sorted(metrics.metric_set))
        return original(*args, **kwargs)

    monkeypatch.setattr(metrics, "flush_metrics", recording_flush)
    yield published
    metrics.clear_metrics()


@pytest.fixture
def api(app_container):
    from app import app

    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as client:
        yield client


class CountingCatalog:
    def get(self) -> Catalog:
        count("CatalogRead")
        return Catalog()


def counting(name: str):
    def handler(*args, **kwargs):
        count(name)
        return {"ran": name}
    return handler


def test_an_http_request_publishes_its_metrics_once(api, app_container, flushes):
    app_container.override(catalog=CountingCatalog())
    assert api.http.get("/services").status_code == 200
    assert flushes == [["CatalogRead"]]


def test_a_request_without_metrics_publishes_nothing(api, flushes):
    assert api.http.get("/health").status_code == 200
    assert flushes == []


def test_a_failing_request_still_publishes_what_it_recorded(api, app_container, flushes):
    class FailingCatalog:
        def get(self):
            count("CatalogRead")
            raise RuntimeError("table gone")

    app_container.override(catalog=FailingCatalog())
    assert api.http.get("/services").status_code == 500
    assert flushes == [["CatalogRead"]]


@pytest.mark.parametrize("function_name", sorted(SCHEDULED))
def test_a_scheduled_job_publishes_its_metrics_once(api, flushes, monkeypatch, function_name):
    module_name, job = SCHEDULED[function_name]
    monkeypatch.setattr(f"chalicelib.api.{module_name}.{job}", counting(job))
    event = api.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                         resources=[])
    assert api.lambda_.invoke(function_name, event).payload == {"ran": job}
    assert flushes == [[job]]


def test_a_websocket_invocation_publishes_its_metrics_once(api, flushes, monkeypatch):
    monkeypatch.setattr("chalicelib.api.realtime.on_disconnect", counting("Disconnected"))
    event = {"requestContext": {"routeKey": "$disconnect", "eventType": "DISCONNECT", "connectionId": "c1",
                                "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "stage": "api",
                                "apiId": "abc123", "requestId": "r1"}, "isBase64Encoded": False}
    assert api.lambda_.invoke("ws_disconnect", event).payload == {"statusCode": 200}
    assert flushes == [["Disconnected"]]


STREAM_STAGE_SCRIPT = """
import json
from chalicelib.observability import count, metrics
from chalicelib.api import streams
import app

published = []
metrics.flush_metrics = lambda *a, **k: published.append(sorted(metrics.metric_set))
streams.on_requests_stream = lambda event: count("StreamBatch") or {"ran": "StreamBatch"}
result = app.app.handler_map["realtime_from_requests"]({"Records": []}, None)
print(json.dumps({"result": result, "published": published}))
"""


def test_the_stream_consumer_publishes_its_metrics_once():
    """The consumer exists only where REALTIME_DELIVERY=stream when app.py is imported, so a fresh interpreter
    imports it as such a stage would."""
    env = {**os.environ, "REALTIME_DELIVERY": "stream",
           "REQUESTS_STREAM_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/requests/stream/2026-11-01T00:00"}
    done = subprocess.run([sys.executable, "-c", STREAM_STAGE_SCRIPT], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"result": {"ran": "StreamBatch"}, "published": [["StreamBatch"]]}
