"""Every kind of invocation logs with a correlation id and the Lambda context; traced stages patch the clients
whose calls become X-Ray subsegments (DynamoDB and SES through botocore, Stripe through requests)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from chalice.app import CloudWatchEvent, DynamoDBEvent, WebsocketEvent

from chalicelib import observability
from devtools.processes import PROJECT_DIR

CONTEXT = SimpleNamespace(function_name="service-portal-dev-SendReminders", aws_request_id="lambda-req-1")


def schedule_event():
    return CloudWatchEvent({"version": "0", "account": "1", "region": "us-east-1", "detail": {},
                            "detail-type": "Scheduled Event", "source": "aws.events", "time": "t", "id": "evt-42",
                            "resources": []}, CONTEXT)


def websocket_event():
    return WebsocketEvent({"requestContext": {"domainName": "d", "stage": "api", "connectionId": "c1",
                                              "apiId": "a", "requestId": "ws-req-7", "eventType": "MESSAGE"},
                           "body": "{}"}, CONTEXT)


def stream_event():
    return DynamoDBEvent({"Records": []}, CONTEXT)


@pytest.mark.parametrize("event, correlation", [(schedule_event, "evt-42"), (websocket_event, "ws-req-7"),
                                                (stream_event, "lambda-req-1")])
def test_each_invocation_kind_logs_its_correlation_id_and_lambda_context(event, correlation, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    handler = observability.logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        observability.start_invocation(event())
        observability.logger.info("work")
        observability.end_invocation()
        observability.logger.info("after")
    finally:
        handler.setStream(previous)
        observability.logger.set_correlation_id(None)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    work, after = [line for line in lines if line["message"] in ("work", "after")]
    assert work["correlation_id"] == correlation
    assert work["function_request_id"] == "lambda-req-1" and work["function_name"].endswith("SendReminders")
    assert "function_request_id" not in after


def test_traced_stages_patch_botocore_and_requests():
    """In a subprocess: patching is process-wide, and this suite's own AWS calls must stay unpatched."""
    script = ("from types import SimpleNamespace\n"
              "from chalice.app import DynamoDBEvent\n"
              "from aws_xray_sdk.core import patcher\n"
              "from chalicelib import observability\n"
              "context = SimpleNamespace(function_name='f', aws_request_id='r')\n"
              "observability.start_invocation(DynamoDBEvent({'Records': []}, context))\n"
              "print(sorted(patcher._PATCHED_MODULES))\n")
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "false", "AWS_LAMBDA_FUNCTION_NAME": "service-portal-dev-f",
           "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert {"botocore", "requests"} <= set(json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"')))
