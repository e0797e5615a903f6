"""The Lambda context of the invocation being served (set by app.py's middleware, read by adapters that need
the remaining time, e.g. idempotency's in-progress expiry). A ContextVar: each local server thread has its own."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

lambda_context: ContextVar[Any] = ContextVar("lambda_context", default=None)
