"""The one Powertools Logger, Metrics and Tracer. Creating them does no I/O; metrics are flushed per invocation."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "service-portal")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ServicePortal")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@lru_cache(maxsize=1)
def tracer():
    """X-Ray tracer, built on first use (importing aws_xray_sdk costs cold-start time)."""
    from aws_lambda_powertools import Tracer
    return Tracer(service=SERVICE, disabled=os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true")


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() != "true"


LAMBDA_KEYS = ("function_name", "function_request_id", "cold_start")
_cold = {"start": True}


def start_invocation(event: Any) -> None:
    """Log keys for any invocation (HTTP, websocket, schedule, stream): a correlation id — the API Gateway request
    id, the schedule's event id, or the Lambda request id — and the Lambda context (function, request id, cold
    start). In traced stages, the first invocation patches botocore and requests so DynamoDB, SES and Stripe calls
    show as X-Ray subsegments."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    if isinstance(context, dict):  # a chalice HTTP Request's `context` is API Gateway's request context
        context = getattr(event, "lambda_context", None)
    logger.set_correlation_id(correlation_id_of(event, context))
    logger.append_keys(function_name=getattr(context, "function_name", None),
                       function_request_id=getattr(context, "aws_request_id", None), cold_start=_cold["start"])
    _cold["start"] = False
    if tracing_enabled():
        tracer()


def end_invocation() -> None:
    logger.remove_keys(list(LAMBDA_KEYS))


def correlation_id_of(event: Any, context: Any) -> str | None:
    request_context = getattr(event, "context", None)
    if isinstance(request_context, dict) and request_context.get("requestId"):  # HTTP
        return request_context["requestId"]
    raw = event.to_dict() if hasattr(event, "to_dict") else {}
    websocket = raw.get("requestContext") or {}
    return websocket.get("requestId") or raw.get("id") or getattr(context, "aws_request_id", None)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add a Count metric. Dimensions are kept few and low-cardinality (e.g. code=SLOT_FULL)."""
    if dimensions:
        # Per-dimension values need their own EMF blob; single_metric keeps them off the shared set.
        from aws_lambda_powertools.metrics import single_metric

        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE,
                           default_dimensions={"service": SERVICE}) as metric:
            for key, val in dimensions.items():
                metric.add_dimension(name=key, value=str(val))
        return
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush() -> None:
    """Publish this invocation's metrics; most reads record none, and an empty flush would only log a warning."""
    if metrics.metric_set:
        metrics.flush_metrics(raise_on_empty_metrics=False)
