"""One contract, two implementations: the in-memory fakes used by unit tests must behave like the DynamoDB
adapters (against moto), or unit tests would prove things about a store that does not exist."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain.errors import ConcurrentUpdate, ValidationFailed
from devtools.seed import MEMBERS, SERVICES, demo_global_blackouts, demo_teams
from tests.fakes import FakeAuditLog, FakeCatalogRepository

TODAY = datetime(2026, 3, 2, tzinfo=timezone.utc).date()


@pytest.fixture(params=["fake", "dynamodb"])
def catalog_repo(request):
    if request.param == "fake":
        return FakeCatalogRepository()
    request.getfixturevalue("tables")
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    return DynamoCatalogRepository()


def _fill(repo) -> None:
    for service in SERVICES:
        repo.put_service(service)
    for team in demo_teams(TODAY):
        repo.put_team(team)
    for member in MEMBERS:
        repo.put_member(member)
    for blackout in demo_global_blackouts(TODAY):
        repo.put_global_blackout(blackout)


def test_catalog_round_trips_every_field(catalog_repo):
    _fill(catalog_repo)
    catalog = catalog_repo.load()
    assert catalog.services == {s.id: s for s in SERVICES}
    assert catalog.teams == {t.id: t for t in demo_teams(TODAY)}
    assert catalog.members == {m.id: m for m in MEMBERS}
    assert catalog.global_blackouts == demo_global_blackouts(TODAY)


def test_writing_the_same_ids_again_replaces_instead_of_adding(catalog_repo):
    _fill(catalog_repo)
    renamed = replace(SERVICES[0], name="Renamed")
    catalog_repo.put_service(renamed)
    _fill(catalog_repo)
    catalog_repo.put_service(renamed)
    catalog = catalog_repo.load()
    assert len(catalog.services) == len(SERVICES) and len(catalog.members) == len(MEMBERS)
    assert catalog.services[renamed.id].name == "Renamed"


def test_team_write_with_a_stale_version_is_refused(catalog_repo):
    team = demo_teams(TODAY)[0]
    catalog_repo.put_team(team)  # version 1
    catalog_repo.put_team(replace(team, daily_limit=9, version=2), expected_version=1)
    with pytest.raises(ConcurrentUpdate):
        catalog_repo.put_team(replace(team, daily_limit=1, version=2), expected_version=1)
    assert catalog_repo.load().teams[team.id].daily_limit == 9


@pytest.fixture(params=["fake", "dynamodb"])
def audit_log(request):
    clock = {"now": datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)}

    def now():
        clock["now"] += timedelta(seconds=1)
        return clock["now"]

    if request.param == "fake":
        return FakeAuditLog(now=now)
    request.getfixturevalue("tables")
    from chalicelib.adapters.dynamodb.audit_repository import DynamoAuditLog
    return DynamoAuditLog(now=now)


def test_audit_entries_by_entity_in_order_and_day_feed_newest_first_with_cursor(audit_log):
    for n in range(5):
        audit_log.record("TEAM#team-nyc", "admin:admin-1", "team.capacity", {"limit": n}, {"limit": n + 1},
                         reason=f"change {n}")
    audit_log.record("SR#r1", "system", "payment.paid", None, {"paymentStatus": "PAID"})
    history = audit_log.for_entity("TEAM#team-nyc")
    assert [e["before"]["limit"] for e in history] == [0, 1, 2, 3, 4]
    assert history[0]["reason"] == "change 0" and history[0]["actor"] == "admin:admin-1"

    first, cursor = audit_log.list(day="2026-03-02", limit=4)
    assert cursor is not None
    rest, end = audit_log.list(day="2026-03-02", cursor=cursor, limit=4)
    feed = first + rest
    assert end is None and len(feed) == 6
    assert [e["at"] for e in feed] == sorted((e["at"] for e in feed), reverse=True)
    assert audit_log.list(day="2026-03-03")[0] == []


def test_audit_feed_rejects_a_forged_cursor(audit_log):
    with pytest.raises(ValidationFailed):
        audit_log.list(day="2026-03-02", cursor="not-base64-json")
