"""Payment use cases with in-memory fakes: every delivery order of every event set converges, duplicates are
no-ops, write races are retried, mismatches are flagged instead of accepted, checkout failures leave a known
state."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.errors import (ConcurrentUpdate, InvalidState, PaymentProviderUnavailable,
                                     TemporarilyUnavailable)
from chalicelib.domain.payment import Payment
from chalicelib.domain.principal import Principal
from chalicelib.services import payments
from chalicelib.services.events import CapacityReleased, EventBus, inject
from chalicelib.services.handlers import EVENT_HANDLERS
from chalicelib.services.payments import transition
from chalicelib.services.ports import StaleRevision
from tests.fakes import FakeAuditLog, FakePromoUsage

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
P, S = PaymentStatus, Status


class FakeRequests:
    """get/save/release with the DynamoDB repository's revision condition (StaleRevision on a lost race)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}
        self.releases: list[str] = []
        self.race_next = 0  # the next N writes lose a race (another writer bumped the revision first)

    def put(self, request: ServiceRequest) -> None:
        self.docs[request.id] = {**codec.request_to_doc(request), "revision": 1}

    def get(self, request_id: str) -> ServiceRequest | None:
        doc = self.docs.get(request_id)
        return codec.request_from_doc(dict(doc)) if doc else None

    def save(self, old: ServiceRequest, new: ServiceRequest, extra=()) -> ServiceRequest:
        if self.race_next:
            self.race_next -= 1
            self.docs[old.id]["revision"] += 1
            raise StaleRevision(old.id)
        if self.docs[old.id]["revision"] != old.revision:
            raise StaleRevision(old.id)
        self.docs[old.id] = {**codec.request_to_doc(new), "revision": old.revision + 1}
        for add in extra:  # the audit entry, written with the change (FakeAuditLog.action)
            add(SimpleNamespace(after_commit=lambda change: change()))
        return new.with_changes(revision=old.revision + 1)

    def release(self, old: ServiceRequest, new: ServiceRequest, plan, extra=()) -> ServiceRequest:
        saved = self.save(old, new, extra)
        self.releases.append(old.id)
        return saved


class FakePaymentStore:
    def __init__(self) -> None:
        self.claims: dict[str, str] = {}
        self.refs: dict[str, str] = {}  # payment ref -> request id (the by_payment_ref index)
        self.parked: dict[str, list] = {}

    def claim_event(self, event_id: str, event_type: str) -> bool:
        if event_id in self.claims:
            return False
        self.claims[event_id] = "processing"
        return True

    def finish_event(self, event_id: str, outcome: str) -> None:
        self.claims[event_id] = "done"

    def release_event(self, event_id: str) -> None:
        self.claims.pop(event_id, None)

    def event_state(self, event_id: str) -> str | None:
        return self.claims.get(event_id)

    def request_id_by_payment_ref(self, ref: str) -> str | None:
        return self.refs.get(ref)

    def park_event(self, payment_intent: str, event_id: str, event_type: str, obj: dict) -> None:
        self.parked.setdefault(payment_intent, []).append((event_id, event_type, obj))

    def parked_events(self, payment_intent: str) -> list:
        return list(self.parked.get(payment_intent, []))

    def drop_parked(self, payment_intent: str, event_id: str) -> None:
        self.parked[payment_intent] = [p for p in self.parked.get(payment_intent, []) if p[0] != event_id]


class FakeGateway:
    def __init__(self) -> None:
        self.fail_with: Exception | None = None
        self.created: list[dict] = []
        self.sessions: dict[str, dict] = {}

    def retrieve_session(self, session_id: str) -> dict:
        return dict(self.sessions[session_id])

    def expire_session(self, session_id: str) -> dict:
        if self.sessions[session_id]["status"] == "open":
            self.sessions[session_id]["status"] = "expired"
        return dict(self.sessions[session_id])

    def create_checkout_session(self, *, request_id, amount, currency, description, expires_at, customer_email=None,
                                attempt=1, **_):
        if self.fail_with is not None:
            raise self.fail_with
        session = {"id": f"cs_{request_id}_{attempt}", "url": f"https://pay/{request_id}/{attempt}",
                   "expires_at": int(expires_at.timestamp()), "amount_total": amount, "currency": currency.lower(),
                   "status": "open", "payment_status": "unpaid", "created": int(NOW.timestamp())}
        self.created.append(session)
        return session


def make_deps():
    publisher = SimpleNamespace(availability_changed=lambda *a: None)
    deps = SimpleNamespace(requests=FakeRequests(), payment_store=FakePaymentStore(), audit=FakeAuditLog(),
                           catalog=SimpleNamespace(get=lambda: SimpleNamespace(teams={}, services={})),
                           publisher=publisher, booking_publisher=publisher, promo_usage=FakePromoUsage(),
                           clock=lambda: NOW, stripe=FakeGateway(), settings=SimpleNamespace(hold_minutes=30))
    # The handlers bootstrap registers, bound to this double as bootstrap binds them to the container.
    deps.events = EventBus({event: [inject(handler, deps) for handler in handlers]
                            for event, handlers in EVENT_HANDLERS.items()})
    return deps


def card_request(request_id: str = "sr_1", method: PaymentMethod = PaymentMethod.CARD) -> ServiceRequest:
    start = NOW + timedelta(days=3)
    cod = method is PaymentMethod.COD
    return ServiceRequest(
        id=request_id, user_id="user-a", service_id="svc",
        placement=Placement(team_id="t1", member_id="m1", start=start, end=start + timedelta(hours=1),
                            local_date=start.date().isoformat(), timezone="UTC", cells=(codec.iso_utc(start),)),
        status=S.CONFIRMED if cod else S.PENDING_PAYMENT, payment_status=P.COD_DUE if cod else P.PENDING,
        payment_method=method, price={"currency": "USD", "total": 5000}, created_at=NOW, updated_at=NOW,
        hold_expires_at=None if cod else NOW + timedelta(minutes=30),
        payment=Payment() if cod else Payment(session_id="cs_1", amount=5000, currency="USD", attempt=1))


def session(payment_status="paid", status="complete", amount=5000, currency="usd", session_id="cs_1") -> dict:
    return {"object": "checkout.session", "id": session_id, "metadata": {"serviceRequestId": "sr_1"},
            "client_reference_id": "sr_1", "amount_total": amount, "currency": currency, "status": status,
            "payment_status": payment_status, "payment_intent": "pi_1"}


def event(event_id: str, type_: str, obj: dict) -> dict:
    return {"id": event_id, "object": "event", "type": type_, "data": {"object": obj}}


COMPLETED_PAID = event("evt_cp", "checkout.session.completed", session())
COMPLETED_UNPAID = event("evt_cu", "checkout.session.completed", session(payment_status="unpaid"))
ASYNC_OK = event("evt_ao", "checkout.session.async_payment_succeeded", session())
ASYNC_FAIL = event("evt_af", "checkout.session.async_payment_failed", session(payment_status="unpaid"))
EXPIRED = event("evt_ex", "checkout.session.expired", session(payment_status="unpaid", status="expired"))
REFUNDED = event("evt_rf", "charge.refunded", {"object": "charge", "id": "ch_1", "amount": 5000, "amount_refunded": 5000,
                                               "refunded": True, "payment_intent": "pi_1",
                                               "metadata": {"serviceRequestId": "sr_1"}})

CASES = [
    ([COMPLETED_PAID], (P.PAID, S.CONFIRMED), 0),
    ([COMPLETED_UNPAID, ASYNC_OK], (P.PAID, S.CONFIRMED), 0),
    ([COMPLETED_UNPAID, ASYNC_FAIL], (P.FAILED, S.EXPIRED), 1),
    ([EXPIRED], (P.EXPIRED, S.EXPIRED), 1),
    ([COMPLETED_PAID, REFUNDED], (P.REFUNDED, S.CONFIRMED), 0),
    ([COMPLETED_UNPAID, ASYNC_OK, REFUNDED], (P.REFUNDED, S.CONFIRMED), 0),
]


@pytest.mark.parametrize("events,final,releases", CASES, ids=lambda v: None)
def test_every_order_with_duplicates_reaches_the_same_final_state(events, final, releases):
    deliveries = events * 2
    orders = set(itertools.permutations(range(len(deliveries))))
    for order in orders:
        deps = make_deps()
        deps.requests.put(card_request())
        for index in order:
            payments.process_event(deps, deliveries[index], "test")
        result = deps.requests.get("sr_1")
        assert (result.payment_status, result.status) == final, [deliveries[i]["id"] for i in order]
        assert len(deps.requests.releases) == releases  # capacity given back at most once
        changes = [a for a in deps.audit.for_entity("SR#sr_1")]
        assert len(changes) <= len(events)  # duplicates never write


def test_a_lost_write_race_is_retried_and_decided_again():
    deps = make_deps()
    deps.requests.put(card_request())
    deps.requests.race_next = 2
    outcome = payments.process_event(deps, COMPLETED_PAID, "test")
    assert outcome["outcome"] == "changed" and deps.requests.get("sr_1").payment_status is P.PAID


def test_a_write_that_keeps_losing_races_gives_up_with_a_conflict_and_frees_the_event():
    deps = make_deps()
    deps.requests.put(card_request())
    deps.requests.race_next = transition.MAX_WRITE_ATTEMPTS
    with pytest.raises(ConcurrentUpdate):
        payments.process_event(deps, COMPLETED_PAID, "test")
    assert deps.payment_store.event_state("evt_cp") is None  # Stripe's redelivery processes it
    assert payments.process_event(deps, COMPLETED_PAID, "test")["outcome"] == "changed"


def test_an_event_another_invocation_is_processing_is_not_acknowledged_and_a_finished_one_is():
    deps = make_deps()
    deps.requests.put(card_request())
    deps.payment_store.claims["evt_cp"] = "processing"  # claimed by an invocation still running (or just died)
    with pytest.raises(TemporarilyUnavailable) as raised:
        payments.process_event(deps, COMPLETED_PAID, "test")
    assert raised.value.retry_after and deps.requests.get("sr_1").payment_status is P.PENDING
    deps.payment_store.claims["evt_cp"] = "done"
    assert payments.process_event(deps, COMPLETED_PAID, "test")["outcome"] == "duplicate"


def test_a_payment_change_is_audited_even_when_the_process_dies_right_after_its_write():
    class Killed(BaseException):
        pass

    deps = make_deps()
    deps.requests.put(card_request())
    save = deps.requests.save

    def save_then_die(old, new, extra=()):
        save(old, new, extra)
        raise Killed()

    deps.requests.save = save_then_die
    with pytest.raises(Killed):
        payments.process_event(deps, COMPLETED_PAID, "test")
    assert deps.requests.get("sr_1").payment_status is P.PAID
    assert [e["action"] for e in deps.audit.for_entity("SR#sr_1")] == ["payment.paid"]


def test_amount_or_currency_mismatch_is_flagged_once_and_never_paid(monkeypatch):
    metrics = []
    monkeypatch.setattr(transition, "count", lambda name, value=1, **dims: metrics.append((name, dims)))
    for wrong in (session(amount=4999), session(currency="eur")):
        deps = make_deps()
        deps.requests.put(card_request())
        for event_id in ("evt_1", "evt_2"):  # two different events saying the same wrong thing
            payments.process_event(deps, event(event_id, "checkout.session.completed", wrong), "test")
        result = deps.requests.get("sr_1")
        assert result.payment_status is P.PENDING and result.status is S.PENDING_PAYMENT
        assert [n.kind for n in result.payment.reconciliation_notes] == ["amount_mismatch"]
        assert [a["action"] for a in deps.audit.for_entity("SR#sr_1")] == ["payment.mismatch_flagged"]
    assert metrics.count(("PaymentMismatch", {"kind": "amount_mismatch"})) == 2


def test_money_arriving_after_the_hold_was_released_is_kept_and_flagged():
    deps = make_deps()
    deps.requests.put(card_request())
    payments.process_event(deps, EXPIRED, "test")
    payments.process_event(deps, ASYNC_OK, "test")
    result = deps.requests.get("sr_1")
    assert (result.payment_status, result.status) == (P.PAID, S.EXPIRED)
    assert [n.kind for n in result.payment.reconciliation_notes] == ["paid_after_release"]


def test_an_older_attempts_expiry_does_not_touch_the_current_session():
    deps = make_deps()
    deps.requests.put(card_request().with_changes(payment=Payment(session_id="cs_2", amount=5000, currency="USD")))
    assert payments.process_event(deps, EXPIRED, "test")["outcome"] == "unchanged"
    assert deps.requests.get("sr_1").status is S.PENDING_PAYMENT and deps.requests.releases == []


def test_a_failure_while_processing_releases_the_claim_so_a_retry_processes_it():
    deps = make_deps()
    deps.requests.put(card_request())
    real_get = deps.requests.get
    deps.requests.get = lambda request_id: (_ for _ in ()).throw(TemporarilyUnavailable())
    with pytest.raises(TemporarilyUnavailable):
        payments.process_event(deps, COMPLETED_PAID, "test")
    assert deps.payment_store.event_state("evt_cp") is None
    deps.requests.get = real_get
    assert payments.process_event(deps, COMPLETED_PAID, "test")["outcome"] == "changed"
    assert payments.process_event(deps, COMPLETED_PAID, "test")["outcome"] == "duplicate"


def test_unknown_event_types_are_acknowledged_without_a_claim():
    deps = make_deps()
    assert payments.process_event(deps, event("evt_u", "invoice.paid", {}), "test")["outcome"] == "ignored"
    assert deps.payment_store.claims == {}


def test_checkout_failure_at_booking_leaves_unpaid_with_the_reason():
    deps = make_deps()
    fresh = card_request().with_changes(payment_status=P.UNPAID, payment=Payment(), revision=1)
    deps.requests.put(fresh)
    deps.stripe.fail_with = PaymentProviderUnavailable(retry_after=2)
    result = payments.checkout_after_booking(deps, fresh)
    stored = deps.requests.get("sr_1")
    assert (stored.status, stored.payment_status) == (S.PENDING_PAYMENT, P.UNPAID)
    assert stored.payment.error.code == "PAYMENT_PROVIDER_UNAVAILABLE" and result.payment == stored.payment
    assert stored.hold_expires_at == fresh.hold_expires_at  # the hold keeps expiring; expire_holds releases it


def test_checkout_success_binds_session_and_hold_to_the_request():
    deps = make_deps()
    fresh = card_request().with_changes(payment_status=P.UNPAID, payment=Payment(), revision=1)
    deps.requests.put(fresh)
    result = payments.checkout_after_booking(deps, fresh)
    assert result.payment_status is P.PENDING and result.payment.checkout_url == "https://pay/sr_1/1"
    assert result.payment.amount == 5000 and result.payment.currency == "USD"
    # Stripe needs >= 30 minutes; the hold is the session's expiry.
    assert result.hold_expires_at == NOW + payments.SESSION_MIN_LIFETIME


def test_cash_bookings_get_no_session_and_collection_is_guarded():
    deps = make_deps()
    cash = card_request(method=PaymentMethod.COD)
    deps.requests.put(cash)
    assert payments.checkout_after_booking(deps, cash) is cash and deps.stripe.created == []
    admin = Principal("boss", groups=("admin",))
    assert payments.cod_collected(deps, admin, "sr_1").payment_status is P.COD_COLLECTED
    assert payments.cod_collected(deps, admin, "sr_1").payment_status is P.COD_COLLECTED
    assert len(deps.audit.for_entity("SR#sr_1")) == 1
    deps.requests.put(card_request("sr_2"))
    with pytest.raises(InvalidState):
        payments.cod_collected(deps, admin, "sr_2")


def test_resume_closes_a_session_about_to_expire_before_opening_the_next_attempt():
    deps = make_deps()
    deps.requests.put(card_request())
    deps.stripe.sessions["cs_1"] = {"id": "cs_1", "status": "open", "payment_status": "unpaid",
                                    "expires_at": int(NOW.timestamp()) + 30}
    resumed = payments.resume_checkout(deps, Principal("user-a"), "sr_1")
    assert deps.stripe.sessions["cs_1"]["status"] == "expired"
    assert resumed.payment.session_id == "cs_sr_1_2" and resumed.payment.attempt == 2
    assert resumed.hold_expires_at == NOW + payments.SESSION_MIN_LIFETIME


def test_resume_reuses_an_open_session_and_refuses_settled_requests():
    deps = make_deps()
    deps.requests.put(card_request())
    deps.stripe.sessions["cs_1"] = {"id": "cs_1", "status": "open", "payment_status": "unpaid",
                                    "expires_at": int(NOW.timestamp()) + 1200}
    assert payments.resume_checkout(deps, Principal("user-a"), "sr_1").payment.session_id == "cs_1"
    assert deps.stripe.created == []
    payments.process_event(deps, COMPLETED_PAID, "test")
    with pytest.raises(InvalidState):
        payments.resume_checkout(deps, Principal("user-a"), "sr_1")


def _recording(deps) -> tuple[list, list]:
    """The events deps publishes, and the availability pushes their handlers make."""
    published, pushes, bus = [], [], deps.events
    deps.events = SimpleNamespace(publish=lambda event: published.append(event) or bus.publish(event))
    deps.booking_publisher = SimpleNamespace(availability_changed=lambda *args: pushes.append(args))
    return published, pushes


def test_a_released_hold_publishes_capacity_released_and_its_handler_pushes_availability():
    deps = make_deps()
    published, pushes = _recording(deps)
    held = card_request().with_changes(hold_expires_at=NOW - timedelta(minutes=1))
    deps.requests.put(held)
    deps.stripe.sessions["cs_1"] = session(payment_status="unpaid", status="open")
    deps.payment_store.due_holds = lambda now: iter([deps.requests.get("sr_1")])

    assert payments.expire_holds(deps)["expired"] == 1
    assert deps.requests.releases == ["sr_1"]
    assert [type(e) for e in published] == [CapacityReleased]
    assert published[0].request.id == "sr_1" and published[0].changed_days == [held.placement.local_date]
    assert pushes == [(["svc"], "t1", [held.placement.local_date])]

    deps.payment_store.due_holds = lambda now: iter([deps.requests.get("sr_1")])
    payments.expire_holds(deps)  # nothing left to release: nothing published again
    assert len(published) == 1 and len(pushes) == 1


def test_a_payment_that_keeps_the_hold_publishes_nothing():
    deps = make_deps()
    published, pushes = _recording(deps)
    deps.requests.put(card_request())
    payments.process_event(deps, COMPLETED_PAID, "test")
    assert deps.requests.get("sr_1").payment_status is P.PAID
    assert published == [] and pushes == []
