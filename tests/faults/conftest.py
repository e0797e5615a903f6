"""Fault injection: the process dies right after a write and before its answer (tests/faults/crash.py), a new
invocation starts, the client (or Stripe, or the next scheduled run) retries, and the tables must end consistent
(tests/faults/invariants.py). Same in-process moto, seed, chalice test client and Stripe stub as the integration
layer, whose fixtures are reused here."""
from __future__ import annotations

from tests.integration.conftest import aws, app_container, client, seeded, tables, tokens  # noqa: F401
from tests.integration.payments_support import gateway, pay_api, pay_catalog, stub, users  # noqa: F401
