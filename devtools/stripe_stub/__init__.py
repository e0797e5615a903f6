"""A local stand-in for the parts of Stripe the portal uses (never deployed).

Emulates, with Stripe's documented object shapes and wire format (form-encoded request bodies as the stripe SDK
sends them, JSON responses, list envelopes, error envelopes, Idempotency-Key replay):

  POST /v1/checkout/sessions                 create (mode=payment, line_items[].price_data)
  GET  /v1/checkout/sessions[/{id}]          list (limit, starting_after, ending_before, status, created) / retrieve
  POST /v1/checkout/sessions/{id}/expire     expire an open session
  GET  /v1/events[/{id}]                     list (created, type, types, delivery_success) / retrieve
  POST /v1/refunds, GET /v1/refunds/{id}     refunds (emit charge.refunded)
  GET  /v1/payment_intents/{id}, GET /v1/charges/{id}

plus a hosted checkout page `GET /pay/{session_id}` (buttons, or `?outcome=paid|async_succeeded|async_failed|
async_pending|cancel`) that completes the session and delivers the resulting events as signed webhooks, and
test controls under `/_stub/...` (reset, faults, clock, expiry, deliveries, redelivery, stats). See
docs/stripe-stub.md for what is and is not emulated.

Run: `python -m devtools.stripe_stub [--port 12111]`; in tests: `start_in_thread(...)`, and `StubClient(url)` for
the controls.

Which module does what: docs/stripe-stub.md.
"""
from __future__ import annotations

from devtools.stripe_stub.account import DEFAULT_WEBHOOK_SECRET, DEFAULT_WEBHOOK_URL, StripeStub
from devtools.stripe_stub.client import StubClient
from devtools.stripe_stub.errors import ApiError
from devtools.stripe_stub.events import API_VERSION
from devtools.stripe_stub.faults import Faults
from devtools.stripe_stub.server import DEFAULT_HOST, DEFAULT_PORT, main, make_server, start_in_thread
from devtools.stripe_stub.webhooks import sign_payload

__all__ = ["API_VERSION", "DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_WEBHOOK_SECRET", "DEFAULT_WEBHOOK_URL", "ApiError",
           "Faults", "StripeStub", "StubClient", "main", "make_server", "sign_payload", "start_in_thread"]
