"""Scale figures: the DynamoDB items read (and requests made) by the most-used routes and the jobs, for a company of
`SCALE_BENCH_REQUESTS` bookings (default 100,000) against a company of `SCALE_BENCH_BASELINE_REQUESTS` (default
1,000) bookings plus the measured team's. The measured team has the same 2,000 bookings in both (its own
calendar is what its routes return, and bounds what they may read: one item per member-day), so `*_growth`, the
ratio of the two, says how a route's cost grows with the rest of the company: bounded by what it returns, it
stays near 1.

The company (bench/scale_seed.py) is seeded into in-process moto through the app's own write paths; the routes run
through chalice.test.Client on the real app and container, the jobs through their use cases on the same container
(a stand-in Stripe that knows the open payments' sessions, so only DynamoDB is counted). moto runs with the
local stack's patches (devtools/moto_*.py), which change its speed, not its answers. Every figure is taken in a
warm container (catalog and promotion rules already cached by an earlier call), except `catalog_load`, which is
what a container pays each time it reloads the catalog. Items read: bench/ddb_counter.py.
"""
from __future__ import annotations

import os
import time

from bench import ddb_counter

FULL_REQUESTS = int(os.environ.get("SCALE_BENCH_REQUESTS", "100000"))
BASELINE_REQUESTS = int(os.environ.get("SCALE_BENCH_BASELINE_REQUESTS", "1000"))
SERVICE, TEAM = "plumbing-t00", "t00"  # t00 works in America/New_York
TZ = "America/New_York"
ENV = {"STAGE": "test", "AUTH_MODE": "dev", "TABLE_PREFIX": "portal-test-", "REALTIME_DELIVERY": "stream",
       "DEV_TOKEN_SECRET": "bench-dev-token-secret-0123456789abcdef",
       "LINK_SIGNING_SECRET": "bench-link-secret-0123456789abcdef", "STRIPE_API_KEY": "sk_test_local",
       "STRIPE_WEBHOOK_SECRET": "whsec_test", "POWERTOOLS_TRACE_DISABLED": "true",
       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
ENDPOINTS = ("DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE")
GROWTH = ("availability_7d", "availability_31d", "booking", "quote", "admin_list_team_status",
          "expire_holds_10_due", "reconcile_100_pending", "catalog_load")


class _Stripe:
    """Checkout Sessions of the seeded open payments, all still open; nothing else exists at 'Stripe'."""

    def __init__(self) -> None:
        self.calls = 0
        self.sessions: dict[str, dict] = {}

    def open(self, requests: dict) -> None:
        for session_id, request in requests.items():
            self.sessions[session_id] = {"id": session_id, "status": "open", "payment_status": "unpaid",
                                         "created": int(request.created_at.timestamp()),
                                         "client_reference_id": request.id,
                                         "metadata": {"serviceRequestId": request.id}}

    def list_sessions(self, created_gte, limit: int = 100, status=None):
        self.calls += 1
        since = created_gte if isinstance(created_gte, int) else int(created_gte.timestamp())
        yield [dict(s) for s in self.sessions.values() if s["created"] >= since]

    def retrieve_session(self, session_id: str) -> dict:
        from chalicelib.domain.errors import NotFound
        self.calls += 1
        if session_id not in self.sessions:
            raise NotFound(details={"sessionId": session_id})
        return dict(self.sessions[session_id])

    def expire_session(self, session_id: str) -> dict:
        session = self.retrieve_session(session_id)
        if session["status"] == "open":
            self.sessions[session_id]["status"] = "expired"
        return dict(self.sessions[session_id])

    def list_undelivered_events(self, since, types=None):
        self.calls += 1
        return iter(())


def _counted(figures: dict, name: str, run) -> object:
    ddb_counter.reset()
    result = run()
    figures[f"items_read_{name}"] = ddb_counter.items_read()
    figures[f"ddb_requests_{name}"] = ddb_counter.total()
    return result


def _ok(response, status: int = 200):
    if response.status_code != status:
        raise RuntimeError(f"bench call answered {response.status_code}: {response.body[:300]!r}")
    return response


def _routes(client, settings, figures: dict) -> None:
    """Each route once to warm the container, then counted on another day, service or key."""
    from chalicelib.adapters import dev_tokens

    user = {"Authorization": f"Bearer {dev_tokens.issue(settings.dev_token_secret, 'bench-user')}"}
    admin = {"Authorization": "Bearer " + dev_tokens.issue(settings.dev_token_secret, "bench-admin",
                                                           groups=["admin"])}

    def availability(first: str, last: str):
        return lambda: _ok(client.http.get(f"/services/{SERVICE}/availability?from={first}&to={last}&tz={TZ}"))

    def book(key: str, start: str):
        body = {"serviceId": SERVICE, "start": start, "paymentMethod": "COD", "postalCode": "10001"}
        return lambda: _ok(client.http.post("/portal/service-requests", body=_json(body),
                                            headers={**user, "Idempotency-Key": key,
                                                     "Content-Type": "application/json"}), 201)

    def quote(service: str):
        body = {"serviceId": service, "start": "2026-12-10T15:00:00Z", "tz": TZ}
        return lambda: _ok(client.http.post("/pricing/quote", body=_json(body),
                                            headers={"Content-Type": "application/json"}))

    availability("2026-11-25", "2026-11-26")()
    _counted(figures, "availability_7d", availability("2026-12-01", "2026-12-07"))
    _counted(figures, "availability_31d", availability("2026-12-01", "2026-12-31"))
    book("bench-warm", "2026-12-08T22:00:00Z")()  # 17:00 in New York: the seeded bookings leave it free
    _counted(figures, "booking", book("bench-measured", "2026-12-09T22:00:00Z"))
    quote("plumbing-t01")()
    _counted(figures, "quote", quote(SERVICE))
    _counted(figures, "admin_list_team_status", lambda: _ok(client.http.get(
        f"/admin/service-requests?teamId={TEAM}&status=PENDING_PAYMENT", headers=admin)))


def _json(body: dict) -> str:
    import json
    return json.dumps(body)


def _jobs(deps, figures: dict) -> None:
    from chalicelib.services import payments

    expired = _counted(figures, "expire_holds_10_due", lambda: payments.expire_holds(deps))
    reconciled = _counted(figures, "reconcile_100_pending", lambda: payments.reconcile_payments(deps))
    if expired["expired"] != 10 or reconciled["open"] != 100:
        raise RuntimeError(f"bench jobs did not see the seeded work: {expired} {reconciled}")
    deps.catalog.invalidate()
    _counted(figures, "catalog_load", deps.catalog.get)


def company_figures(requests: int) -> dict:
    """Seed a company of `requests` bookings into a fresh in-process moto and count every route and job."""
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from bench import scale_seed
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.bootstrap import Container, use_container
    from chalicelib.clock import FixedClock
    from chalicelib.settings import get_settings, settings_from_env
    from devtools.processes import PROJECT_DIR

    from devtools import moto_query, moto_responses, moto_transactions

    for key in ENDPOINTS:
        os.environ.pop(key, None)
    os.environ.update(ENV)
    ddb_counter.install()
    # As the local stack and the tests run moto: transactions and queries that cost what they touch (moto 5 copies
    # every table a transaction names; at 100,000 bookings that is minutes a transaction). Answers are the same.
    moto_transactions.install()
    moto_query.install()
    moto_responses.install()
    with mock_aws():
        settings = settings_from_env(dict(os.environ))
        create_tables(settings)
        stripe = _Stripe()
        deps = Container(settings).override(clock=FixedClock(scale_seed.NOW), stripe=stripe)
        get_settings.cache_clear()
        use_container(deps)
        try:
            began = time.perf_counter()
            scale_seed.seed_catalog(deps)
            scale_seed.seed_promotions(deps)
            seeded = scale_seed.seed_bookings(deps, requests)
            stripe.open(seeded["open_sessions"])
            figures = {"seconds_to_seed": round(time.perf_counter() - began, 1),
                       "items_seeded": seeded["items_written"]}
            with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as client:
                _routes(client, settings, figures)
            _jobs(deps, figures)
        finally:
            use_container(None)
            get_settings.cache_clear()
    return figures


def figures() -> dict:
    from bench import scale_seed

    baseline = BASELINE_REQUESTS + scale_seed.MEASURED_TEAM_BOOKINGS
    big, small = company_figures(FULL_REQUESTS), company_figures(baseline)
    out = {"scale_requests": FULL_REQUESTS, "scale_baseline_requests": baseline,
           "scale_seconds_to_seed": big.pop("seconds_to_seed"), "scale_items_seeded": big.pop("items_seeded")}
    for key in ("seconds_to_seed", "items_seeded"):
        small.pop(key)
    out.update(big)
    out.update({f"{key}_baseline": value for key, value in small.items() if key.startswith("items_read_")})
    for name in GROWTH:
        base = small[f"items_read_{name}"]
        out[f"items_read_{name}_growth"] = round(big[f"items_read_{name}"] / base, 2) if base else None
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(figures(), sort_keys=True))
