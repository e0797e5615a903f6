"""Realtime use cases and the publisher, with the in-memory store and a recording pusher (no AWS)."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest

from chalicelib.domain.catalog import Catalog, Money, Service
from chalicelib.domain.errors import NotFound, RangeTooLarge, Unauthenticated, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.services import realtime as rt
from tests.realtime_fakes import FakeRealtimeStore, RecordingPusher

NOW = datetime(2030, 3, 4, 12, 0, tzinfo=timezone.utc)
DAY = "2030-03-06"
CATALOG = Catalog(services={s: Service(id=s, name=s, category="c", description="", duration_minutes=60,
                                       buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0,
                                       base_price=Money(100), team_ids=("t1",))
                            for s in ("svc", "other")})
USER = Principal("u1")
ADMIN = Principal("a1", groups=("admin",))


@pytest.fixture
def store():
    return FakeRealtimeStore()


@pytest.fixture
def pusher():
    return RecordingPusher()


def slots(service_id, local_date, team_id):
    return [{"start": datetime.fromisoformat(f"{local_date}T09:00:00+00:00"), "remaining": 1}]


def publisher(store, pusher, day_slots=slots, budget=5.0):
    return rt.WebsocketPublisher(store, pusher, day_slots, budget_seconds=budget, clock=lambda: NOW)


def test_only_admins_join_the_admin_channel(store):
    rt.connect(store, ADMIN, "c-admin", "e", NOW)
    rt.connect(store, USER, "c-user", "e", NOW)
    assert [c for c, _ in store.subscribers(rt.ADMIN_CHANNEL)] == ["c-admin"]


def test_subscribe_needs_a_live_connection(store):
    with pytest.raises(Unauthenticated):
        rt.subscribe(store, CATALOG, "ghost", "svc", date(2030, 3, 6), date(2030, 3, 6), NOW)
    rt.connect(store, USER, "c1", "e", NOW - rt.CONNECTION_LIFETIME - timedelta(seconds=1))
    with pytest.raises(Unauthenticated):  # past its lifetime, even if TTL has not deleted it yet
        rt.subscribe(store, CATALOG, "c1", "svc", date(2030, 3, 6), date(2030, 3, 6), NOW)


def test_subscribe_validates_service_and_range(store):
    rt.connect(store, USER, "c1", "e", NOW)
    with pytest.raises(NotFound):
        rt.subscribe(store, CATALOG, "c1", "nope", date(2030, 3, 6), date(2030, 3, 6), NOW)
    with pytest.raises(RangeTooLarge):
        rt.subscribe(store, CATALOG, "c1", "svc", date(2030, 3, 1), date(2030, 4, 1), NOW)
    with pytest.raises(ValidationFailed):
        rt.subscribe(store, CATALOG, "c1", "svc", date(2030, 3, 6), date(2030, 3, 5), NOW)
    assert subscriptions(store) == []


def subscriptions(store) -> list[str]:
    """The connection's subscriptions, without the user channel every connection joins at connect."""
    return [c for c in store.channels_of("c1") if not c.startswith("USER#")]


def test_every_connection_joins_its_own_users_channel_and_nobody_elses(store):
    rt.connect(store, USER, "c1", "e", NOW)
    assert store.channels_of("c1") == [f"USER#{USER.user_id}"]
    assert store.subscribers(f"USER#{USER.user_id}") == [("c1", "e")]


def test_one_connection_cannot_hold_more_than_the_channel_cap(store):
    rt.connect(store, USER, "c1", "e", NOW)
    first = date(2030, 1, 1)
    for block in range(rt.MAX_CHANNELS_PER_CONNECTION // rt.MAX_SUBSCRIPTION_DAYS):
        start = first + timedelta(days=block * rt.MAX_SUBSCRIPTION_DAYS)
        rt.subscribe(store, CATALOG, "c1", "svc", start, start + timedelta(days=rt.MAX_SUBSCRIPTION_DAYS - 1), NOW)
    with pytest.raises(RangeTooLarge):
        rt.subscribe(store, CATALOG, "c1", "other", date(2030, 3, 6), date(2030, 3, 6), NOW)
    # Re-subscribing to days already held does not count twice.
    rt.subscribe(store, CATALOG, "c1", "svc", first, first, NOW)


def test_unsubscribe_without_range_drops_every_day_of_that_service_only(store):
    rt.connect(store, USER, "c1", "e", NOW)
    rt.subscribe(store, CATALOG, "c1", "svc", date(2030, 3, 6), date(2030, 3, 8), NOW)
    rt.subscribe(store, CATALOG, "c1", "other", date(2030, 3, 6), date(2030, 3, 6), NOW)
    assert rt.unsubscribe(store, "c1", "svc", None, None)["channels"] == 3
    assert subscriptions(store) == ["other#2030-03-06"]


def test_push_carries_slots_as_utc_strings_and_a_feed_cursor(store, pusher):
    rt.connect(store, USER, "c1", "e", NOW)
    rt.subscribe(store, CATALOG, "c1", "svc", date(2030, 3, 6), date(2030, 3, 6), NOW)
    publisher(store, pusher).availability_changed(["svc"], "t1", [DAY])
    (frame,) = pusher.of_type("c1", "availability.changed")
    assert frame["slots"] == [{"start": f"{DAY}T09:00:00Z", "remaining": 1}]
    assert frame["cursor"] in store.changes["svc"]


def test_a_connection_that_errors_does_not_stop_the_others_and_is_not_dropped(store, pusher):
    for cid in ("c1", "c2"):
        rt.connect(store, USER, cid, "e", NOW)
        rt.subscribe(store, CATALOG, cid, "svc", date(2030, 3, 6), date(2030, 3, 6), NOW)
    pusher.broken.add("c1")  # a transient failure is not a 410: the subscription stays
    report = publisher(store, pusher).publish_availability(["svc"], "t1", [DAY])
    assert (report.delivered, report.failed, report.gone) == (1, 1, 0)
    assert len(pusher.of_type("c2", "availability.changed")) == 1
    assert subscriptions(store) == [f"svc#{DAY}"]


def test_the_publisher_returns_while_a_post_is_still_stuck(store):
    """A hung management API must not hold the booking: the caller gets control back with the post blocked."""
    release, entered = threading.Event(), threading.Event()

    class HungPusher(RecordingPusher):
        def send(self, connection_id, data, endpoint=None):
            entered.set()
            release.wait(60)
            return True

    rt.connect(store, USER, "c1", "e", NOW)
    rt.subscribe(store, CATALOG, "c1", "svc", date(2030, 3, 6), date(2030, 3, 6), NOW)
    try:
        # The budget leaves the worker ample time to reach the post even on a loaded machine; the post then blocks.
        assert publisher(store, HungPusher(), budget=2.0).availability_changed(["svc"], "t1", [DAY]) is None
        assert entered.is_set() and not release.is_set()  # we are back although the post never finished
        assert len(store.changes["svc"]) == 1  # the feed already has the change
    finally:
        release.set()


def test_storage_failures_never_reach_the_caller(pusher):
    class DownStore(FakeRealtimeStore):
        def append_change(self, *args, **kwargs):
            raise ConnectionError("DynamoDB unreachable")

    assert publisher(DownStore(), pusher).availability_changed(["svc"], "t1", [DAY]) is None


def test_feed_does_not_skip_a_change_that_lands_after_a_younger_one(store):
    """Writer A stamps its cursor first but its write lands after writer B's: a poller must still see A."""
    start = rt.changes_since(store, CATALOG, "svc", None, 50, NOW)["cursor"]
    a_cursor = rt.new_cursor(NOW + timedelta(milliseconds=1))
    b_cursor = rt.new_cursor(NOW + timedelta(milliseconds=2))
    store.append_change("svc", b_cursor, {"name": "B"}, NOW + timedelta(days=1))
    early = rt.changes_since(store, CATALOG, "svc", start, 50, NOW + timedelta(milliseconds=3))
    assert early["changes"] == [] and early["cursor"] == start  # B is not shown before the settle window
    store.append_change("svc", a_cursor, {"name": "A"}, NOW + timedelta(days=1))
    later = rt.changes_since(store, CATALOG, "svc", early["cursor"], 50, NOW + rt.SETTLE + timedelta(seconds=1))
    assert [c["name"] for c in later["changes"]] == ["A", "B"]


@pytest.mark.parametrize("cursor", ["", "x", "20300101T000000Z-abcdef12", "20300101T000000.000000Z-ABCDEF12",
                                    "20301301T000000.000000Z-abcdef12"])
def test_feed_rejects_cursors_it_did_not_issue(store, cursor):
    with pytest.raises(ValidationFailed):
        rt.changes_since(store, CATALOG, "svc", cursor, 50, NOW)


def test_the_stream_consumer_logs_every_day_of_a_batch_that_a_request_budget_would_cut_off(monkeypatch, settings):
    """A stream batch touching many team-days gets them all into the change log (and pushed); the 1 s request
    budget would skip the days it does not reach. Each day takes 0.4 s on the fake monotonic clock."""
    from chalicelib.bootstrap import Container

    ticks = iter(i * 0.4 for i in range(10_000))
    monkeypatch.setattr(rt, "monotonic", lambda: next(ticks))
    days = [(date(2030, 3, 6) + timedelta(days=n)).isoformat() for n in range(12)]

    def logged_days(publisher_of) -> list[str]:
        deps = Container(settings).override(realtime_store=FakeRealtimeStore(), realtime_pusher=RecordingPusher(),
                                            day_slots=slots)
        publisher_of(deps).availability_changed(["svc"], "t1", days)
        return sorted(change["date"] for change in deps.realtime_store.changes_between("svc", "", "~", 100))

    assert logged_days(lambda deps: deps.stream_publisher) == days
    assert len(logged_days(lambda deps: deps.publisher)) < len(days)  # what the request budget would have logged
