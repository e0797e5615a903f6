"""Booking and cancellation against in-memory fakes only (no moto): member choice and fallback, capacity limits,
a stale catalog, lost races, the events a stored change publishes."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, time, timezone
from types import SimpleNamespace

import pytest

from chalicelib.clock import FixedClock
from chalicelib.domain import availability as av
from chalicelib.domain.booking import PaymentMethod, Status
from chalicelib.domain.catalog import Catalog, Money, Service, Team, TeamMember, TimeWindow
from chalicelib.domain.errors import NotFound, SlotFull
from chalicelib.domain.payment import Payment
from chalicelib.domain.pricing import PricingPolicy
from chalicelib.domain.principal import Principal
from chalicelib.services import booking, changes
from chalicelib.services.booking_pricing import BookingPricer
from chalicelib.services.capacity import LoadSnapshots
from chalicelib.services.catalog import CatalogCache
from chalicelib.services.events import BookingCancelled, BookingCreated, BookingMoved, EventBus
from tests.fakes import (FakeAuditLog, FakeCapacityOverrides, FakeCatalogRepository, FakePromoUsage,
                         FakeServiceRequestRepository)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
DAY = "2026-12-01"
SERVICE = Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                  buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60, base_price=Money(10000),
                  team_ids=("t1",))
TEAM = Team(id="t1", name="NY", timezone="America/New_York",
            weekly_hours={d: (TimeWindow(time(8), time(18)),) for d in range(7)}, daily_limit=3, slot_capacity=1)
MEMBERS = {f"m{i}": TeamMember(id=f"m{i}", team_id="t1", display_name=f"M{i}", service_ids=("svc",))
           for i in range(2)}
A, B = Principal("user-a", email="a@example.com"), Principal("user-b")


class NoPromotions:
    def list_rules(self):
        return []

    def refresh(self):
        return []

    def exhausted_rule_ids(self, rules, user_id=None):
        return set()


class Deps:
    """What booking and changes read, all in memory; `events` records what was published."""

    def __init__(self, team: Team = TEAM, id_prefix: str = "sr_") -> None:
        self.catalog_repo = FakeCatalogRepository(Catalog(services={"svc": SERVICE}, teams={"t1": team},
                                                          members=MEMBERS))
        self.catalog = CatalogCache(self.catalog_repo, ttl_seconds=3600)
        self.requests = FakeServiceRequestRepository()
        self.load_snapshots = LoadSnapshots()
        self.promo_usage = FakePromoUsage()
        self.price = BookingPricer(NoPromotions(), PricingPolicy())
        self.clock = FixedClock(NOW)
        self.settings = SimpleNamespace(hold_minutes=30)
        self.audit = FakeAuditLog(now=self.clock)
        ids = itertools.count(1)
        self.new_id = lambda: f"{id_prefix}{next(ids)}"
        self.shuffle = lambda members: None  # ties stay in catalog order (by id): assignments are predictable
        self.published: list = []
        self.on_created = lambda event: None
        self.events = EventBus({BookingCreated: [self.published.append, lambda event: self.on_created(event)],
                                BookingMoved: [self.published.append], BookingCancelled: [self.published.append]})


def at(hour: int) -> datetime:
    return datetime.fromisoformat(f"{DAY}T{hour:02d}:00:00-05:00")


def draft(hour: int = 10, **kw) -> booking.BookingDraft:
    return booking.BookingDraft(service_id="svc", start=at(hour), payment_method=PaymentMethod.COD, **kw)


def day_counts(deps: Deps) -> av.CounterSnapshot:
    day = datetime.fromisoformat(DAY).date()
    return deps.requests.counters(day, day, teams=["t1"])


def test_a_booking_goes_to_the_least_loaded_member_and_holds_its_capacity():
    deps = Deps()
    first = booking.create(deps, A, draft(9))
    second = booking.create(deps, A, draft(11))
    assert (first.placement.member_id, second.placement.member_id) == ("m0", "m1")  # m0 already has one that day
    assert deps.requests.get(second.id) == second and second.status is Status.CONFIRMED
    assert second.price["total"] == 10000 and second.customer_email == "a@example.com"
    assert day_counts(deps).day_counts[("t1", DAY)] == 2
    assert deps.published == [BookingCreated(first), BookingCreated(second)]


def test_a_burst_on_one_slot_spreads_over_members_when_ties_are_random():
    """Twenty bookings that all saw the same (idle) loads: with ties by id each tries m00, m01, ... in turn
    (N(N+1)/2 transactions); shuffled, they mostly get their first choice."""
    import random

    members = {f"m{i:02d}": TeamMember(id=f"m{i:02d}", team_id="t1", display_name="M", service_ids=("svc",))
               for i in range(30)}

    def burst(shuffle) -> int:
        deps = Deps(team=replace(TEAM, slot_capacity=20, daily_limit=100))
        for member in members.values():
            deps.catalog_repo.put_member(member)
        deps.catalog.invalidate()
        deps.shuffle = shuffle
        stale = deps.load_snapshots.get(deps.requests, "t1", DAY)  # what every booking of the burst read
        deps.load_snapshots = SimpleNamespace(get=lambda *a, **kw: stale, note_booking=lambda *a: None)
        creates = []
        store = deps.requests.create
        deps.requests.create = lambda *a, **kw: (creates.append(1), store(*a, **kw))[1]
        placed = {booking.create(deps, Principal(f"u{i}"), draft(9)).placement.member_id for i in range(20)}
        assert len(placed) == 20
        return len(creates)

    assert burst(lambda ms: None) == 210
    assert burst(random.Random(3).shuffle) <= 3 * 20


def test_the_booking_answers_with_the_request_its_handlers_stored():
    deps = Deps()
    deps.on_created = lambda event: event.request.with_changes(payment=Payment(checkout_url="https://pay/1"))
    created = booking.create(deps, A, draft())
    assert created.payment.checkout_url == "https://pay/1"


def test_a_member_found_busy_makes_the_booking_try_the_next_one():
    deps = Deps(replace(TEAM, slot_capacity=2))
    deps.load_snapshots.get(deps.requests, "t1", DAY)  # this container's cached loads: everyone free at 10:00
    elsewhere = Deps(replace(TEAM, slot_capacity=2), id_prefix="sr_other_")  # books m0 at 10:00 meanwhile
    elsewhere.requests = deps.requests
    taken = booking.create(elsewhere, B, draft(10, member_id="m0"))
    assert taken.placement.member_id == "m0"
    created = booking.create(deps, A, draft(10))
    assert created.placement.member_id == "m1"


def test_a_full_slot_is_refused_and_leaves_nothing_behind():
    deps = Deps()
    booking.create(deps, A, draft(10))
    before = day_counts(deps)
    with pytest.raises(SlotFull):
        booking.create(deps, B, draft(10))
    assert day_counts(deps) == before and deps.requests.list_for_user("user-b", None, 10) == ([], None)


def test_a_stale_catalog_is_reloaded_and_the_booking_made_with_the_fresh_one():
    deps = Deps()
    deps.catalog.get()
    # An admin, in another container: the day is fenced for version 2, then the team is written.
    FakeCapacityOverrides(deps.requests).fence("t1", [DAY], 2)
    deps.catalog_repo.put_team(replace(TEAM, version=2), expected_version=1)
    created = booking.create(deps, A, draft())
    assert deps.catalog_repo.loads == 2 and deps.requests.get(created.id) is not None


def test_cancel_gives_the_capacity_back_once_audits_and_publishes():
    deps = Deps()
    created = booking.create(deps, A, draft())
    with pytest.raises(NotFound):  # another user's booking does not exist for them
        changes.cancel(deps, B, created.id)
    cancelled = changes.cancel(deps, A, created.id, "plans changed")
    assert cancelled.status is Status.CANCELLED and cancelled.sequence == 1
    assert day_counts(deps).day_counts[("t1", DAY)] == 0
    (entry,) = deps.audit.for_entity(f"SR#{created.id}")
    assert entry["action"] == "service_request.cancelled" and entry["reason"] == "plans changed"
    assert deps.published[-1] == BookingCancelled(cancelled)
    published = len(deps.published)
    # A repeat (the retry of a cancel whose answer was lost) answers the request as it is and changes nothing.
    assert changes.cancel(deps, A, created.id) == cancelled
    assert day_counts(deps).day_counts[("t1", DAY)] == 0 and len(deps.audit.for_entity(f"SR#{created.id}")) == 1
    assert len(deps.published) == published
    booking.create(deps, B, draft())  # the slot is free again


def test_a_cancel_that_lost_a_race_reads_the_request_again():
    deps = Deps()
    created = booking.create(deps, A, draft())
    release, raced = deps.requests.release, []

    def another_write_first(old, new, plan, extra=()):
        if not raced:  # someone else writes the request between our read and our release
            raced.append(deps.requests.save(old, old.with_changes(notes="gate code 1234")))
        return release(old, new, plan, extra)

    deps.requests.release = another_write_first
    cancelled = changes.cancel(deps, A, created.id)
    assert cancelled.status is Status.CANCELLED and cancelled.notes == "gate code 1234"
    assert cancelled.revision == 3 and day_counts(deps).day_counts[("t1", DAY)] == 0
