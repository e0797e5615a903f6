"""The one Powertools Logger, Metrics and Tracer. Creating them does no I/O; metrics are flushed per invocation."""
from __future__ import annotations

import os
from functools import lru_cache

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
