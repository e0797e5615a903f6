"""StripeGateway against the local Stripe stub over real HTTP (stripe SDK -> devtools/stripe_stub/), plus the
stub's hosted page delivering signed webhooks to a tiny local receiver."""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.domain.errors import InvalidState, NotFound, PaymentProviderUnavailable, ValidationFailed
from devtools.stripe_stub import StubClient, start_in_thread

SECRET = "whsec_integration_secret"
API_KEY = "sk_test_integration"


class Receiver:
    """Collects webhook POSTs (raw body + Stripe-Signature); answers with `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None]] = []
        self.status = 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append((body, self.headers.get("Stripe-Signature")))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/payments/stripe/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, gateway: StripeGateway) -> list[dict]:
        """Every received delivery, verified exactly as the app's webhook route will verify it."""
        with self.lock:
            return [gateway.construct_event(body, header) for body, header in self.received]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def stub_url(receiver):
    server, url = start_in_thread(webhook_url=receiver.url, webhook_secret=SECRET)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def control(stub_url) -> StubClient:
    return StubClient(stub_url)


def make_gateway(stub_url: str, **options) -> StripeGateway:
    options = {"max_network_retries": 0, "read_timeout": 5.0, **options}
    return StripeGateway(API_KEY, SECRET, api_base=stub_url,
                         success_url_template="http://portal.test/requests/{request_id}?s={CHECKOUT_SESSION_ID}",
                         cancel_url_template="http://portal.test/requests/{request_id}?cancelled=1", **options)


@pytest.fixture
def gateway(stub_url) -> StripeGateway:
    return make_gateway(stub_url)


_test_started = {"at": 0}


@pytest.fixture(autouse=True)
def _hold_base():
    """Holds are counted from the test's start, not from each call: two calls of one attempt must send the same
    parameters (Stripe refuses a reused Idempotency-Key with others), even across a second boundary."""
    _test_started["at"] = int(time.time())


def create(gateway: StripeGateway, request_id: str = "sr-1", amount: int = 12500, attempt: int = 1,
           hold_minutes: int = 30) -> dict:
    return gateway.create_checkout_session(request_id=request_id, amount=amount, currency="USD",
                                           description="Deep clean, 3 rooms", customer_email="ana@example.com",
                                           expires_at=_test_started["at"] + hold_minutes * 60 + 120,
                                           attempt=attempt)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def wait_until_idle(control: StubClient, limit_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + limit_seconds
    while control.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert control.stats()["in_flight"] == 0


# --- Checkout Sessions ------------------------------------------------------------------------------------------

def test_created_session_is_bound_to_the_request(gateway, stub_url):
    session = create(gateway, "sr-42")

    assert session["id"].startswith("cs_test_") and session["object"] == "checkout.session"
    assert session["client_reference_id"] == "sr-42"
    assert session["metadata"] == {"serviceRequestId": "sr-42"}
    assert (session["amount_total"], session["currency"]) == (12500, "usd")
    assert (session["status"], session["payment_status"], session["mode"]) == ("open", "unpaid", "payment")
    assert session["success_url"] == "http://portal.test/requests/sr-42?s={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == "http://portal.test/requests/sr-42?cancelled=1"
    assert session["customer_email"] == "ana@example.com"
    assert session["url"] == f"{stub_url}/pay/{session['id']}"
    assert gateway.retrieve_session(session["id"]) == session


def test_same_attempt_replays_the_same_session_and_a_new_attempt_gets_a_fresh_one(gateway, control):
    first = create(gateway, "sr-1")
    replay = create(gateway, "sr-1")
    fresh = create(gateway, "sr-1", attempt=2)

    assert replay["id"] == first["id"]
    assert fresh["id"] != first["id"]
    listed = [s["id"] for page in gateway.list_sessions(0) for s in page]
    assert sorted(listed) == sorted([first["id"], fresh["id"]])
    assert control.stats()["by_route"]["POST /v1/checkout/sessions"] == 3


def test_same_attempt_with_different_details_is_refused(gateway):
    create(gateway, "sr-1", amount=12500)

    with pytest.raises(InvalidState):
        create(gateway, "sr-1", amount=9900)


def test_stub_enforces_stripes_30_minute_minimum_expiry(stub_url):
    """The gateway refuses this itself; the stub must refuse it too, like Stripe, for other callers."""
    client = stripe.StripeClient(API_KEY, base_addresses={"api": stub_url})
    params = {"mode": "payment", "expires_at": int(time.time()) + 20 * 60,
              "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 100,
                                                            "product_data": {"name": "x"}}}]}

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params)
    assert caught.value.param == "expires_at" and caught.value.http_status == 400


def test_list_pages_through_more_than_100_sessions(gateway, control):
    control.clock(offset_seconds=-7200)  # two sessions created "two hours ago"
    old = {create(gateway, f"old-{i}")["id"] for i in range(2)}
    control.clock(offset_seconds=0)
    since = int(time.time()) - 60
    recent = [create(gateway, f"sr-{i}")["id"] for i in range(130)]

    pages = list(gateway.list_sessions(created_gte=since))

    assert [len(page) for page in pages] == [100, 30]
    listed = [s["id"] for page in pages for s in page]
    assert listed == list(reversed(recent))  # newest first, no duplicates, none missing
    assert not old & set(listed)
    everything = [s["id"] for page in gateway.list_sessions(created_gte=0) for s in page]
    assert set(everything) == old | set(recent)


def test_sdk_auto_pagination_works_against_the_stub(gateway, stub_url):
    """The list envelope (object/data/has_more/url) is what the SDK's own paging expects."""
    ids = {create(gateway, f"sr-{i}")["id"] for i in range(105)}
    client = stripe.StripeClient(API_KEY, base_addresses={"api": stub_url})

    first_page = client.v1.checkout.sessions.list(params={"limit": 100, "status": "open"})
    assert first_page.has_more and first_page.url == "/v1/checkout/sessions"
    assert {s.id for s in first_page.auto_paging_iter()} == ids


def test_status_filter(gateway, control):
    paid, open_ = create(gateway, "sr-paid"), create(gateway, "sr-open")
    control.pay(paid["id"])

    complete = [s["id"] for page in gateway.list_sessions(0, status="complete") for s in page]
    still_open = [s["id"] for page in gateway.list_sessions(0, status="open") for s in page]
    assert (complete, still_open) == ([paid["id"]], [open_["id"]])


def test_expire_is_idempotent_and_final_sessions_are_not_an_error(gateway, control, receiver):
    open_session, paid = create(gateway, "sr-open"), create(gateway, "sr-paid")
    control.pay(paid["id"])

    expired = gateway.expire_session(open_session["id"])
    again = gateway.expire_session(open_session["id"])
    complete = gateway.expire_session(paid["id"])

    assert (expired["status"], again["status"], complete["status"]) == ("expired", "expired", "complete")
    control.flush()
    expired_events = [e for e in receiver.events(gateway) if e["type"] == "checkout.session.expired"]
    assert [e["data"]["object"]["id"] for e in expired_events] == [open_session["id"]]


def test_unknown_session_is_not_found(gateway):
    with pytest.raises(NotFound):
        gateway.retrieve_session("cs_test_doesnotexist")
    with pytest.raises(NotFound):
        gateway.expire_session("cs_test_doesnotexist")


# --- faults -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 503, 429])
def test_injected_failures_become_provider_unavailable(gateway, control, status):
    control.faults(fail_next=1, fail_status=status)

    with pytest.raises(PaymentProviderUnavailable) as caught:
        create(gateway, "sr-1")
    assert caught.value.retry_after >= 1
    assert list(gateway.list_sessions(0)) == []  # nothing was created
    assert create(gateway, "sr-1")["client_reference_id"] == "sr-1"  # the fault was one request only


def test_sdk_retries_a_5xx_with_the_same_idempotency_key(stub_url, control):
    gateway = make_gateway(stub_url, max_network_retries=2)
    control.faults(fail_next=1, fail_mode="after")  # executed, then the response is lost

    session = create(gateway, "sr-1")

    assert [s["id"] for page in gateway.list_sessions(0) for s in page] == [session["id"]]
    assert control.stats()["by_route"]["POST /v1/checkout/sessions"] == 2


def test_timeout_is_provider_unavailable_and_the_retry_returns_the_session_it_created(stub_url, control):
    gateway = make_gateway(stub_url, read_timeout=0.5)
    control.faults(delay_seconds=1.5, delay_next=1)

    with pytest.raises(PaymentProviderUnavailable):
        create(gateway, "sr-1")
    retried = create(gateway, "sr-1")

    wait_until_idle(control)  # the timed-out request still runs server-side; what matters is what it did
    assert [s["id"] for page in gateway.list_sessions(0) for s in page] == [retried["id"]]


def test_wrong_api_key_is_provider_unavailable(stub_url):
    gateway = StripeGateway("not-a-key", SECRET, api_base=stub_url, max_network_retries=0)

    with pytest.raises(PaymentProviderUnavailable) as caught:
        gateway.retrieve_session("cs_test_x")
    assert caught.value.details["reason"] == "configuration"


def test_probabilistic_faults_fail_some_requests_and_reads_stay_consistent(gateway, control):
    session = create(gateway, "sr-1")
    control.faults(fail_probability=0.5, seed=7)

    outcomes = []
    for _ in range(20):
        try:
            outcomes.append(gateway.retrieve_session(session["id"])["id"])
        except PaymentProviderUnavailable:
            outcomes.append("unavailable")
    assert "unavailable" in outcomes and session["id"] in outcomes
    assert set(outcomes) == {"unavailable", session["id"]}


# --- the hosted page and webhooks -------------------------------------------------------------------------------

def test_checkout_page_offers_pay_and_cancel(gateway):
    session = create(gateway, "sr-1")

    status, page = get(session["url"])

    assert status == 200
    assert "value='paid'" in page and "value='cancel'" in page and "125.00 USD" in page


def test_paying_through_the_page_delivers_a_verifiable_signed_webhook(gateway, receiver, stub_url):
    session = create(gateway, "sr-7")

    status, _ = get(session["url"] + "?outcome=paid")

    assert status == 200
    [event] = receiver.events(gateway)  # delivered before the page answered, and verified with the SDK
    paid = event["data"]["object"]
    assert event["type"] == "checkout.session.completed" and event["id"].startswith("evt_")
    assert (paid["id"], paid["payment_status"], paid["status"]) == (session["id"], "paid", "complete")
    assert paid["metadata"]["serviceRequestId"] == "sr-7" and paid["client_reference_id"] == "sr-7"
    assert (paid["amount_total"], paid["currency"]) == (12500, "usd")
    retrieved = gateway.retrieve_session(session["id"])
    assert retrieved["payment_status"] == "paid" and retrieved["payment_intent"] == paid["payment_intent"]
    intent = stripe.StripeClient(API_KEY, base_addresses={"api": stub_url}).v1.payment_intents.retrieve(
        paid["payment_intent"])
    assert intent.metadata.to_dict() == {"serviceRequestId": "sr-7"} and intent.status == "succeeded"
    assert list(gateway.list_undelivered_events(since=0)) == []


def test_paid_session_cannot_be_paid_twice(gateway, receiver):
    session = create(gateway, "sr-1")
    get(session["url"] + "?outcome=paid")

    status, page = get(session["url"] + "?outcome=paid")

    assert status == 409 and "complete" in page
    assert len(receiver.received) == 1


@pytest.mark.parametrize("outcome, types, final_payment_status", [
    ("async_succeeded", ["checkout.session.completed", "checkout.session.async_payment_succeeded"], "paid"),
    ("async_failed", ["checkout.session.completed", "checkout.session.async_payment_failed"], "unpaid"),
])
def test_delayed_payment_methods_complete_unpaid_then_settle(gateway, receiver, outcome, types,
                                                             final_payment_status):
    session = create(gateway, "sr-1")

    get(session["url"] + f"?outcome={outcome}")

    events = receiver.events(gateway)
    assert [e["type"] for e in events] == types
    assert events[0]["data"]["object"]["payment_status"] == "unpaid"
    assert events[1]["data"]["object"]["payment_status"] == final_payment_status
    assert gateway.retrieve_session(session["id"])["payment_status"] == final_payment_status


def test_pending_delayed_payment_settles_later(gateway, receiver, control):
    session = create(gateway, "sr-1")
    get(session["url"] + "?outcome=async_pending")
    assert [e["type"] for e in receiver.events(gateway)] == ["checkout.session.completed"]

    control.settle(session["id"], "succeeded")

    assert [e["type"] for e in receiver.events(gateway)][-1] == "checkout.session.async_payment_succeeded"
    assert gateway.retrieve_session(session["id"])["payment_status"] == "paid"


def test_cancel_returns_to_the_portal_and_leaves_the_session_open(gateway, receiver):
    session = create(gateway, "sr-1")

    status, page = get(session["url"] + "?outcome=cancel")

    assert status == 200 and "http://portal.test/requests/sr-1?cancelled=1" in page
    assert receiver.received == []
    assert gateway.retrieve_session(session["id"])["status"] == "open"


def test_failed_deliveries_are_listed_until_redelivered(gateway, receiver, control):
    receiver.status = 500  # the app is down
    lost = create(gateway, "sr-lost")
    get(lost["url"] + "?outcome=paid")
    dropped = create(gateway, "sr-dropped")
    control.faults(webhook_drop_next=1)  # never even sent
    control.pay(dropped["id"])
    delivered_ok = create(gateway, "sr-fine")
    receiver.status = 200
    control.pay(delivered_ok["id"])

    undelivered = list(gateway.list_undelivered_events(since=0))

    assert sorted(e["data"]["object"]["client_reference_id"] for e in undelivered) == ["sr-dropped", "sr-lost"]
    assert all(e["type"] == "checkout.session.completed" and e["pending_webhooks"] == 1 for e in undelivered)
    control.redeliver()
    assert list(gateway.list_undelivered_events(since=0)) == []
    attempts = control.deliveries(undelivered[0]["id"])
    assert [(d["attempt"], d["ok"]) for d in attempts] == [(1, False), (2, True)]


def test_undelivered_events_filter_by_creation_time(gateway, receiver, control):
    receiver.status = 500
    old, new = create(gateway, "sr-old"), create(gateway, "sr-new")
    control.clock(offset_seconds=-3 * 86400)  # the old payment's event is stamped three days ago
    control.pay(old["id"])
    control.clock(offset_seconds=0)
    control.pay(new["id"])

    recent = list(gateway.list_undelivered_events(since=int(time.time()) - 3600))

    assert [e["data"]["object"]["id"] for e in recent] == [new["id"]]


def test_session_past_expires_at_expires_and_the_event_still_verifies(gateway, receiver, control):
    session = create(gateway, "sr-1", hold_minutes=30)
    control.clock(advance_seconds=32 * 60)  # the emulated clock passes expires_at

    assert gateway.retrieve_session(session["id"])["status"] == "expired"
    control.flush()
    [event] = receiver.events(gateway)  # signed with the real clock, so not "stale"
    assert event["type"] == "checkout.session.expired" and event["data"]["object"]["id"] == session["id"]
    status, _ = get(session["url"] + "?outcome=paid")
    assert status == 409


def test_refund_emits_charge_refunded_with_empty_metadata_then_refund_updated(gateway, receiver, control):
    """As Stripe: the charge carries no metadata (it stays on the PaymentIntent), only its PaymentIntent."""
    session = create(gateway, "sr-9")
    control.pay(session["id"])
    intent = gateway.retrieve_session(session["id"])["payment_intent"]

    control.refund(session["id"])

    refunded, updated = receiver.events(gateway)[-2:]
    charge = refunded["data"]["object"]
    assert (refunded["type"], updated["type"]) == ("charge.refunded", "refund.updated")
    assert updated["data"]["object"]["status"] == "succeeded"
    assert updated["data"]["previous_attributes"] == {"status": "pending"}
    assert charge["payment_intent"] == intent and charge["metadata"] == {}
    assert (charge["amount_refunded"], charge["refunded"]) == (12500, True)
    assert refunded["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}


def test_bad_list_parameters_are_validation_errors(gateway):
    with pytest.raises(ValidationFailed):
        next(gateway.list_sessions(0, status="bogus"))
