"""Catalog in one DynamoDB partition (pk=CATALOG): the whole catalog loads with one Query.

A version item (pk=CATALOG#VERSION, sk=VERSION, `version` = n) counts catalog changes: every catalog write (here
and promotion rules in promo_repository) adds 1 to it in the same transaction as the write, so a cache that read
version n before loading holds at least everything up to change n, and one GetItem tells it whether to reload.
"""
from __future__ import annotations

from typing import Any

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb.errors import commit_transaction, translated
from chalicelib.adapters.dynamodb.models import CatalogItem
from chalicelib.domain import codec
from chalicelib.domain.catalog import Blackout, Catalog, Service, Team, TeamMember
from chalicelib.domain.errors import ConcurrentUpdate

CATALOG_PK = "CATALOG"
VERSION_KEY = ("CATALOG#VERSION", "VERSION")


def bump_version(tx: TransactWrite) -> None:
    """Add the catalog version's increment to a transaction writing catalog items (unconditional)."""
    tx.update(CatalogItem(*VERSION_KEY), actions=[CatalogItem.version.add(1)])


class DynamoCatalogRepository:
    def __init__(self) -> None:
        self._connection: Connection | None = None  # built on first write (no I/O at construction)

    def version(self) -> int:
        """The catalog's change count (0 before the first write): one strongly consistent GetItem."""
        with translated():
            try:
                item = CatalogItem.get(*VERSION_KEY, consistent_read=True, attributes_to_get=["version"])
            except CatalogItem.DoesNotExist:
                return 0
        return int(item.version or 0)

    def load(self) -> Catalog:
        """Strongly consistent, so a load made after reading version n sees every change up to n."""
        buckets: dict[str, list[dict]] = {"SERVICE": [], "TEAM": [], "MEMBER": [], "BLACKOUT": []}
        with translated():
            for item in CatalogItem.query(CATALOG_PK, consistent_read=True):
                kind = item.sk.split("#", 1)[0]
                if kind in buckets:
                    buckets[kind].append(item.doc)
        return codec.catalog_from_docs(buckets["SERVICE"], buckets["TEAM"], buckets["MEMBER"],
                                       buckets["BLACKOUT"])

    def _put(self, sk: str, kind: str, doc: dict, version: int = 1, condition: Any = None) -> bool:
        """Write one catalog item and bump the catalog version, atomically. False: `condition` failed."""
        if self._connection is None:  # one per repository: building a botocore client costs tens of ms
            self._connection = Connection(host=CatalogItem.Meta.host, region=CatalogItem.Meta.region)
        tx = TransactWrite(connection=self._connection)
        tx.save(CatalogItem(CATALOG_PK, sk, kind=kind, doc=doc, version=version), condition=condition)
        bump_version(tx)
        return commit_transaction(tx, first_action_only=True)  # the put is the first action

    def put_service(self, service: Service) -> None:
        self._put(f"SERVICE#{service.id}", "service", codec.service_to_doc(service))

    def put_team(self, team: Team, expected_version: int | None = None) -> None:
        condition = None
        if expected_version is not None:
            condition = CatalogItem.version == expected_version
        if not self._put(f"TEAM#{team.id}", "team", codec.team_to_doc(team), team.version, condition):
            raise ConcurrentUpdate(details={"teamId": team.id})

    def put_member(self, member: TeamMember) -> None:
        self._put(f"MEMBER#{member.id}", "member", codec.member_to_doc(member))

    def put_global_blackout(self, blackout: Blackout) -> None:
        self._put(f"BLACKOUT#{blackout.id}", "blackout", codec.blackout_to_doc(blackout))
