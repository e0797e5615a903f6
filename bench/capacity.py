"""Capacity-layout figures against in-process moto: items a 7-day availability read of one team of 10 members reads
(warm container: the catalog is cached) while 5,000 bookings of 20 other teams share its dates, and the ratio to the
same read without them; and the items of one booking transaction for a 24-cell job (idempotency answer included)."""
from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone

from bench import ddb_counter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
FIRST = date(2026, 12, 1)
OTHER_TEAMS, OTHER_BOOKINGS = 20, 5_000


def _catalog(settings) -> None:
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow

    create_tables(settings)
    repo = DynamoCatalogRepository()
    hours = {d: (TimeWindow(time(7), time(21)),) for d in range(7)}
    teams = ["solo"] + [f"o{t}" for t in range(OTHER_TEAMS)]
    for team in teams:
        repo.put_team(Team(id=team, name=team, timezone="America/New_York", weekly_hours=hours, daily_limit=400,
                           slot_capacity=40))
        for m in range(10):
            repo.put_member(TeamMember(id=f"{team}-m{m}", team_id=team, display_name="M", service_ids=(team,)))
        repo.put_service(Service(id=team, name=team, category="c", description="", duration_minutes=300,
                                 buffer_minutes=60, slot_step_minutes=30, lead_time_minutes=0,
                                 base_price=Money(10000), team_ids=(team,)))


def _bookings(catalog, teams: list[str], per_team_day: int) -> int:
    """Capacity items of `per_team_day` one-hour bookings per team and day over 7 days, written whole."""
    from chalicelib.adapters.dynamodb import keys
    from chalicelib.adapters.dynamodb.capacity_store import put_whole
    from chalicelib.domain import availability as av

    items: dict = {}
    made = 0
    for team_id in teams:
        team, service = catalog.teams[team_id], catalog.services[team_id]
        for offset in range(7):
            starts = av.candidate_starts(service, team, FIRST + timedelta(days=offset))
            for n in range(per_team_day):
                plan = av.plan_for(service, team, f"{team_id}-m{n % 10}", starts[(n // 10) * 2 % len(starts)])
                for change in keys.changes(f"sr_{team_id}_{offset}_{n}", claim=plan):
                    items[change.key] = keys.applied(change, items.get(change.key))
                made += 1
    put_whole(items)
    return made


def figures() -> dict:
    from moto import mock_aws

    from chalicelib.bootstrap import Container
    from chalicelib.domain.booking import PaymentMethod
    from chalicelib.domain.principal import Principal
    from chalicelib.services import availability, booking, submissions
    from chalicelib.settings import settings_from_env

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    ddb_counter.install()
    with mock_aws():
        settings = settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": "bench-cap-",
                                      "REALTIME_DELIVERY": "stream"})
        _catalog(settings)
        deps = Container(settings).override(clock=lambda: NOW)
        catalog = deps.catalog.get()
        _bookings(catalog, ["solo"], per_team_day=20)  # every member of the team busy every day

        def items_read() -> int:
            """Warm container (catalog cached): the capacity items only."""
            deps.catalog.get()
            ddb_counter.reset()
            availability.get_availability(deps, "solo", FIRST, FIRST + timedelta(days=6), "America/New_York")
            return ddb_counter.items_read()

        alone = items_read()
        others = _bookings(catalog, [f"o{t}" for t in range(OTHER_TEAMS)], OTHER_BOOKINGS // OTHER_TEAMS // 7 + 1)
        crowded = items_read()
        ddb_counter.reset()
        start = datetime(2026, 12, 2, 20, 0, tzinfo=timezone.utc)  # 5 h + 1 h buffer: 24 cells
        draft = booking.BookingDraft("solo", start, PaymentMethod.COD)
        outcome = submissions.book_once(deps, Principal("bench-user"), "cap-1",
                                        {"serviceId": "solo", "start": start.isoformat()}, draft,
                                        lambda r: {"id": r.id, "cells": len(r.placement.cells)})
        assert outcome.ok and outcome.body["cells"] == 24, outcome.body
        sizes = list(ddb_counter.transaction_sizes)
    return {"items_read_availability_7d": crowded, "items_read_availability_7d_growth": round(crowded / alone, 2),
            "items_read_availability_7d_other_team_bookings": others,
            "items_in_booking_transaction": max(sizes) if sizes else 0}
