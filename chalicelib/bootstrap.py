"""Composition root: builds repositories and gateways lazily, once per warm Lambda container.

Tests swap fakes with `container().override(name=fake)` or `use_container(Container(settings))`.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.settings import Settings, get_settings


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def override(self, **deps: Any) -> "Container":
        """Replace dependencies (cached_property reads the instance dict first)."""
        self.__dict__.update(deps)
        return self

    @cached_property
    def dynamodb_ready(self) -> bool:
        from chalicelib.adapters.dynamodb.tables import configure_models
        configure_models(self.settings)
        return True

    @cached_property
    def catalog_repo(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
        return DynamoCatalogRepository()

    @cached_property
    def catalog(self):
        from chalicelib.services.catalog import CatalogCache
        return CatalogCache(self.catalog_repo, ttl_seconds=self.settings.catalog_cache_seconds)

    @cached_property
    def audit(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.audit_repository import DynamoAuditLog
        return DynamoAuditLog()


    @cached_property
    def publisher(self):
        """Realtime availability/emergency pushes (replaced by the websocket publisher when wired)."""
        from chalicelib.services.ports import NullPublisher
        return NullPublisher()


_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = Container(get_settings())
    return _container


def use_container(new: Container | None) -> None:
    """Install a container (tests), or None to rebuild from the environment on next use."""
    global _container
    _container = new
