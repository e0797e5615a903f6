"""Property: every slot that availability offers (remaining > 0) is accepted by booking, against the real
DynamoDB repository (moto), for generated hours, durations, buffers, steps, zones and existing bookings."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from moto import mock_aws

from chalicelib.domain.booking import PaymentMethod
from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
from chalicelib.domain.principal import Principal

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def build(settings_obj, tz, open_hour, hours_open, duration, buffer, step, crews, members, daily):
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.bootstrap import Container

    create_tables(settings_obj)
    repo = DynamoCatalogRepository()
    window = TimeWindow(time(open_hour), time(min(23, open_hour + hours_open), 0))
    repo.put_team(Team(id="t", name="T", timezone=tz, weekly_hours={d: (window,) for d in range(7)},
                       daily_limit=daily, slot_capacity=crews))
    for i in range(members):
        repo.put_member(TeamMember(id=f"m{i}", team_id="t", display_name=f"M{i}", service_ids=("s",)))
    repo.put_service(Service(id="s", name="S", category="c", description="", duration_minutes=duration,
                             buffer_minutes=buffer, slot_step_minutes=step, lead_time_minutes=0,
                             base_price=Money(1000), team_ids=("t",)))
    return Container(settings_obj).override(clock=lambda: NOW)


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tz=st.sampled_from(ZONES), open_hour=st.integers(6, 12), hours_open=st.integers(3, 9),
       duration=st.sampled_from([30, 45, 60, 90, 120]), buffer=st.sampled_from([0, 15, 30]),
       step=st.sampled_from([15, 30, 60]), crews=st.integers(1, 3), members=st.integers(1, 4),
       daily=st.integers(1, 6), prebook=st.integers(0, 5), pick=st.integers(0, 10_000))
def test_offered_slots_are_bookable(settings, tz, open_hour, hours_open, duration, buffer, step, crews, members,
                                    daily, prebook, pick):
    from chalicelib.services import availability, booking

    with mock_aws():
        deps = build(settings, tz, open_hour, hours_open, duration, buffer, step, crews, members, daily)
        day = date(2026, 12, 3)
        customer = Principal("prop-user")

        def offered():
            result = availability.get_availability(deps, "s", day, day, tz)
            return [s for d in result["days"] for s in d["slots"] if s["remaining"] > 0]

        # Existing bookings at offered slots (each must itself be accepted: the property, applied repeatedly).
        for i in range(prebook):
            slots = offered()
            if not slots:
                break
            chosen = slots[(pick + i * 7) % len(slots)]
            booking.create(deps, customer, booking.BookingDraft("s", datetime.fromisoformat(chosen["start"]),
                                                                PaymentMethod.COD))
        slots = offered()
        if slots:
            chosen = slots[pick % len(slots)]
            created = booking.create(deps, customer, booking.BookingDraft(
                "s", datetime.fromisoformat(chosen["start"]), PaymentMethod.COD))
            assert created.placement.start == datetime.fromisoformat(chosen["start"]).astimezone(timezone.utc)
            # And the count it showed went down by exactly one.
            after = {s["start"]: s["remaining"] for s in
                     (s for d in availability.get_availability(deps, "s", day, day, tz)["days"] for s in d["slots"])}
            assert after[chosen["start"]] == chosen["remaining"] - 1
