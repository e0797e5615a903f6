"""The catalog cache against DynamoDB (moto): a warm container past its TTL checks the catalog version with one
GetItem and reloads (one Query) only when a catalog write moved it; every writer moves it."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from chalicelib.domain.principal import Principal

ADMIN = Principal("admin-1", groups=("admin",))


@pytest.fixture
def ddb_calls(monkeypatch):
    """Counts DynamoDB operations from now on (pynamodb and boto3 both go through BaseClient._make_api_call)."""
    from botocore.client import BaseClient

    calls: Counter = Counter()
    original = BaseClient._make_api_call

    def counted(client, operation_name, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls[operation_name] += 1
        return original(client, operation_name, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return calls


@pytest.fixture
def warm(seeded, settings):
    """(container, clock) whose catalog is loaded, its version read at t=0 of a 30-second TTL."""
    from chalicelib.bootstrap import Container
    from chalicelib.services.catalog import CatalogCache, CatalogVersion

    now = [0.0]
    deps = Container(settings)
    deps.override(catalog_version=CatalogVersion(deps.catalog_repo.version, 30, clock=lambda: now[0]))
    deps.override(catalog=CatalogCache(deps.catalog_repo, deps.catalog_version))
    deps.catalog.get()
    return deps, now


def _other_container(settings):
    from chalicelib.bootstrap import Container
    return Container(settings)


def test_past_the_ttl_an_unchanged_catalog_costs_one_getitem_and_no_query(warm, ddb_calls):
    deps, now = warm
    deps.catalog.get()
    assert sum(ddb_calls.values()) == 0  # within the TTL: nothing read
    now[0] = 31
    first = deps.catalog.get()
    assert dict(ddb_calls) == {"GetItem": 1}
    assert deps.catalog.get() is first and dict(ddb_calls) == {"GetItem": 1}


def test_a_change_in_another_container_is_loaded_once_the_ttl_passed(warm, settings, ddb_calls):
    from chalicelib.services import admin

    deps, now = warm
    admin.put_team_capacity(_other_container(settings), ADMIN, "team-nyc", 17, None, "more crews")
    ddb_calls.clear()
    now[0] = 29
    assert deps.catalog.get().teams["team-nyc"].daily_limit != 17  # stale by at most the TTL
    now[0] = 30
    assert deps.catalog.get().teams["team-nyc"].daily_limit == 17
    assert dict(ddb_calls) == {"GetItem": 1, "Query": 1}


def test_invalidate_reads_the_version_again_and_reloads(warm, ddb_calls):
    deps, _ = warm
    deps.catalog.invalidate()
    deps.catalog.get()
    assert dict(ddb_calls) == {"GetItem": 1, "Query": 1}


def test_every_catalog_writer_bumps_the_version(seeded, settings):
    from chalicelib.domain.catalog import TeamMember
    from chalicelib.services import admin, promotions

    deps = _other_container(settings)
    repo = deps.catalog_repo
    assert repo.version() > 0  # the demo seed wrote through the repository
    catalog = deps.catalog.get()
    writes = [
        lambda: repo.put_service(replace(catalog.services["plumbing"], name="Plumbing!")),
        lambda: repo.put_member(TeamMember(id="m-new", team_id="team-nyc", display_name="N", service_ids=())),
        lambda: repo.put_global_blackout(replace(catalog.global_blackouts[0], reason="moved")),
        lambda: admin.put_team_capacity(deps, ADMIN, "team-london", 9, None, None),
        lambda: promotions.create_rule(deps.promotions, deps.audit, ADMIN,
                                       {"id": "r-new", "code": "NEW10", "kind": "percent", "value": 1000}),
        lambda: promotions.deactivate_rule(deps.promotions, deps.audit, ADMIN, "r-new"),
    ]
    for write in writes:
        before = repo.version()
        write()
        assert repo.version() == before + 1


def test_a_refused_team_write_leaves_the_version(seeded, settings):
    from chalicelib.domain.errors import ConcurrentUpdate

    repo = _other_container(settings).catalog_repo
    team = _other_container(settings).catalog.get().teams["team-nyc"]
    before = repo.version()
    with pytest.raises(ConcurrentUpdate):
        repo.put_team(replace(team, daily_limit=1, version=team.version + 1), expected_version=team.version + 5)
    assert repo.version() == before


def test_a_rule_written_through_this_container_is_priced_at_once(seeded, settings):
    from chalicelib.services import promotions

    deps = _other_container(settings)
    assert [r.id for r in deps.promotion_rules.list_rules() if r.id == "r-auto"] == []
    promotions.create_rule(deps.promotions, deps.audit, ADMIN, {"id": "r-auto", "kind": "percent", "value": 500})
    assert "r-auto" in [r.id for r in deps.promotion_rules.list_rules()]
