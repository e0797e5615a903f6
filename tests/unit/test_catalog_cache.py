"""The catalog cache reloads only when the catalog version moved, checks it at most once per TTL, and never
tags a copy with a version newer than what the copy holds."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.catalog import Catalog, Money, Service
from chalicelib.services.catalog import CatalogCache, CatalogVersion
from tests.fakes import FakeCatalogRepository

SERVICE = Service(id="svc", name="Before", category="c", description="", duration_minutes=60, buffer_minutes=0,
                  slot_step_minutes=30, lead_time_minutes=0, base_price=Money(1), team_ids=())


def cache_over(repo, now):
    return CatalogCache(repo, CatalogVersion(repo.version, ttl_seconds=30, clock=lambda: now[0]))


def test_unchanged_catalog_past_the_ttl_costs_one_version_read_and_no_load():
    now = [0.0]
    repo = FakeCatalogRepository(Catalog(services={"svc": SERVICE}))
    cache = cache_over(repo, now)
    cache.get()
    for t in (10, 31, 45, 62):
        now[0] = t
        cache.get()
    assert (repo.loads, repo.version_reads) == (1, 3)  # read at 0, 31, 62


def test_a_write_committed_while_loading_is_loaded_at_the_next_check():
    class RacingRepo(FakeCatalogRepository):
        race = True

        def load(self):
            catalog = super().load()
            if self.race:  # another container's write lands right after this load read the items
                self.race = False
                self.put_service(replace(SERVICE, name="After"))
            return catalog

    now = [0.0]
    repo = RacingRepo(Catalog(services={"svc": SERVICE}))
    cache = cache_over(repo, now)
    assert cache.get().services["svc"].name == "Before"
    now[0] = 30
    assert cache.get().services["svc"].name == "After"


def test_invalidate_checks_the_version_again_at_once():
    now = [0.0]
    repo = FakeCatalogRepository(Catalog(services={"svc": SERVICE}))
    cache = cache_over(repo, now)
    cache.get()
    repo.put_service(replace(SERVICE, name="After"))
    cache.invalidate()
    assert cache.get().services["svc"].name == "After"
    assert (repo.loads, repo.version_reads) == (2, 2)
