"""Booking-core figures: DynamoDB requests per booking and per 7-day availability read (counted with botocore
event hooks against moto), and the server-side availability computation time for 50 members over 30 days."""
from __future__ import annotations

import random
import statistics
import time as clock
from datetime import date, datetime, time, timedelta, timezone

from bench import ddb_counter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def _catalog_fixture(settings):
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow

    create_tables(settings)
    repo = DynamoCatalogRepository()
    hours = {d: (TimeWindow(time(8), time(18)),) for d in range(7)}
    for t in range(4):  # request counts must not grow with the number of teams
        repo.put_team(Team(id=f"t{t}", name=f"T{t}", timezone=("America/New_York", "Europe/London")[t % 2],
                           weekly_hours=hours, daily_limit=40, slot_capacity=5))
        for m in range(5):
            repo.put_member(TeamMember(id=f"t{t}-m{m}", team_id=f"t{t}", display_name="M", service_ids=("svc",)))
    repo.put_service(Service(id="svc", name="S", category="c", description="", duration_minutes=60,
                             buffer_minutes=15, slot_step_minutes=30, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=tuple(f"t{t}" for t in range(4))))


def request_counts() -> dict:
    import os

    from moto import mock_aws

    from chalicelib.bootstrap import Container
    from chalicelib.domain.booking import PaymentMethod
    from chalicelib.domain.principal import Principal
    from chalicelib.services import availability, booking, submissions
    from chalicelib.settings import settings_from_env

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for key in ("DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(key, None)
    ddb_counter.install()
    with mock_aws():
        # As deployed: realtime pushes come from the requests stream consumer, not the booking request.
        settings = settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": "bench-",
                                      "REALTIME_DELIVERY": "stream"})
        _catalog_fixture(settings)
        deps = Container(settings).override(clock=lambda: NOW)
        inline = Container(settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": "bench-",
                                              "REALTIME_DELIVERY": "inline"})).override(clock=lambda: NOW)
        user = Principal("bench-user")
        body = {"serviceId": "svc"}

        def book(key: str, start: datetime, via=None):
            draft = booking.BookingDraft("svc", start, PaymentMethod.COD)
            outcome = submissions.book_once(via or deps, user, key, {**body, "start": start.isoformat()}, draft,
                                            lambda r: {"id": r.id})
            assert outcome.ok, outcome.body

        day = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)
        ddb_counter.reset()
        book("cold", day)  # first request of a container: loads the catalog and the day's load snapshot
        cold = ddb_counter.total()
        # Warm: a later booking in the same container (catalog and day snapshot cached).
        ddb_counter.reset()
        book("warm", day + timedelta(hours=1))
        warm = ddb_counter.total()
        book("inline-warmup", day + timedelta(hours=2), inline)
        ddb_counter.reset()
        book("inline", day + timedelta(hours=3), inline)  # local stage: the push runs in the request
        inline_push = ddb_counter.total()
        deps.catalog.invalidate()
        ddb_counter.reset()
        availability.get_availability(deps, "svc", date(2026, 12, 1), date(2026, 12, 7), "America/New_York")
        week_cold = ddb_counter.total()
        ddb_counter.reset()
        availability.get_availability(deps, "svc", date(2026, 12, 28), date(2027, 1, 3), "America/New_York")
        week_across_months = ddb_counter.total()
        ddb_counter.reset()
        availability.get_availability(deps, "svc", date(2026, 12, 1), date(2026, 12, 7), "America/New_York")
        week_warm = ddb_counter.total()
    return {"ddb_requests_per_booking": warm, "ddb_requests_per_booking_cold_container": cold,
            "ddb_requests_per_booking_with_inline_push": inline_push,
            "ddb_requests_per_week_availability": max(week_cold, week_across_months),
            "ddb_requests_per_week_availability_warm": week_warm}


def availability_timing(runs: int = 15) -> dict:
    """Median time of the pure availability computation: one team of 50 members, 30 days, ~60% booked."""
    from chalicelib.domain import availability as av
    from chalicelib.domain.catalog import Catalog, Money, Service, Team, TeamMember, TimeWindow
    from chalicelib.domain.cells import origin_for

    rng = random.Random(7)
    hours = {d: (TimeWindow(time(7), time(19)),) for d in range(7)}
    team = Team(id="big", name="Big", timezone="America/New_York", weekly_hours=hours, daily_limit=400,
                slot_capacity=40)
    service = Service(id="svc", name="S", category="c", description="", duration_minutes=90, buffer_minutes=30,
                      slot_step_minutes=30, lead_time_minutes=60, base_price=Money(1), team_ids=("big",))
    members = {f"m{i}": TeamMember(f"m{i}", "big", f"M{i}", ("svc",)) for i in range(50)}
    catalog = Catalog(services={"svc": service}, teams={"big": team}, members=members)
    start_day = date(2026, 12, 1)
    snapshot = av.CounterSnapshot(origin=origin_for(start_day))  # as the repository reads it
    bookings = 0
    for offset in range(30):
        local_day = start_day + timedelta(days=offset)
        starts = av.candidate_starts(service, team, local_day)
        for member in members.values():
            t = 0
            while t < len(starts):
                if rng.random() < 0.6:
                    start = starts[t]
                    cells = av.span(start, av.occupied_minutes(service))
                    snapshot.mark_busy(member.id, cells)
                    snapshot.add_slots("big", cells)
                    key = (member.id, local_day.isoformat())
                    snapshot.member_loads[key] = snapshot.member_loads.get(key, 0) + 1
                    day_key = ("big", local_day.isoformat())
                    snapshot.day_counts[day_key] = snapshot.day_counts.get(day_key, 0) + 1
                    bookings += 1
                    t += 4  # 90 min + 30 min buffer = four 30-minute steps
                else:
                    t += 1
    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    timings = []
    for _ in range(runs):
        begin = clock.perf_counter()
        av.availability(catalog, service, start_day, start_day + timedelta(days=29), "America/New_York", now,
                        snapshot)
        timings.append((clock.perf_counter() - begin) * 1000)
    return {"availability_ms_50_members_30_days": round(statistics.median(timings), 1),
            "availability_bench_existing_bookings": bookings}
