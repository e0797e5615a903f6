"""Report figures against in-process moto: the DynamoDB requests of a 30-day utilisation report of one team of 10
members (warm container: the catalog is cached), with 10 bookings and again after 490 more on the same days. The
report reads the team's capacity items (one Query per calendar month of its partition), never the requests, so
the two counts are the same."""
from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone

from bench import ddb_counter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
FIRST = date(2026, 12, 15)  # 30 days from here cross a month: two partitions
DAYS, MEMBERS = 30, 10
TEAM = "util"


def _catalog(settings) -> None:
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow

    create_tables(settings)
    repo = DynamoCatalogRepository()
    hours = {d: (TimeWindow(time(7), time(21)),) for d in range(7)}
    repo.put_team(Team(id=TEAM, name=TEAM, timezone="America/New_York", weekly_hours=hours, daily_limit=400,
                       slot_capacity=MEMBERS))
    for m in range(MEMBERS):
        repo.put_member(TeamMember(id=f"{TEAM}-m{m}", team_id=TEAM, display_name="M", service_ids=(TEAM,)))
    repo.put_service(Service(id=TEAM, name=TEAM, category="c", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0, base_price=Money(10000),
                             team_ids=(TEAM,)))


def _bookings(catalog, numbers: range) -> None:
    """Capacity items of one-hour bookings numbered `numbers`, spread over the 30 days, members and hours (booking n:
    day n % 30, then member and hour), written whole on top of what is stored."""
    from chalicelib.adapters.dynamodb import keys
    from chalicelib.adapters.dynamodb.capacity_store import plain, put_whole
    from chalicelib.adapters.dynamodb.models import CapacityCounter
    from chalicelib.domain import availability as av

    team, service = catalog.teams[TEAM], catalog.services[TEAM]
    items: dict = {}
    for n in numbers:
        day, k = FIRST + timedelta(days=n % DAYS), n // DAYS
        start = av.candidate_starts(service, team, day)[k // MEMBERS]
        plan = av.plan_for(service, team, f"{TEAM}-m{k % MEMBERS}", start)
        for change in keys.changes(f"sr_util_{n}", claim=plan):
            if change.key not in items:
                stored = CapacityCounter._get_connection().get_item(*change.key, consistent_read=True)
                items[change.key] = plain(stored.get("Item")) or {}
            items[change.key] = keys.applied(change, items[change.key])
    put_whole(items)


def request_counts(sizes: tuple[int, ...] = (10, 500)) -> dict[int, dict]:
    """{bookings: {"requests": DynamoDB requests of the report, "booked": bookings it counted}}, the bookings
    growing from one size to the next on the same tables."""
    from moto import mock_aws

    from chalicelib.bootstrap import Container
    from chalicelib.services import reports
    from chalicelib.settings import settings_from_env

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    ddb_counter.install()
    out: dict[int, dict] = {}
    with mock_aws():
        settings = settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": "bench-reports-"})
        _catalog(settings)
        deps = Container(settings).override(clock=lambda: NOW)
        catalog, made = deps.catalog.get(), 0
        for size in sizes:
            _bookings(catalog, range(made, size))
            made = size
            deps.catalog.get()  # warm: the figure is the report's own reads
            ddb_counter.reset()
            report = reports.team_utilisation(deps, TEAM, FIRST, FIRST + timedelta(days=DAYS - 1))
            out[size] = {"requests": ddb_counter.total(), "booked": report["totals"]["booked"]}
    return out


def figures() -> dict:
    counts = request_counts()
    return {"ddb_requests_utilisation_30_days": counts[500]["requests"],
            "ddb_requests_utilisation_30_days_10_bookings": counts[10]["requests"]}
