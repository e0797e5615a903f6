"""Catalog in one DynamoDB partition (pk=CATALOG): the whole catalog loads with one Query."""
from __future__ import annotations

from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamodb.errors import response_code, translated
from chalicelib.adapters.dynamodb.models import CatalogItem
from chalicelib.domain import codec
from chalicelib.domain.catalog import Blackout, Catalog, Service, Team, TeamMember
from chalicelib.domain.errors import ConcurrentUpdate

CATALOG_PK = "CATALOG"


class DynamoCatalogRepository:
    def load(self) -> Catalog:
        buckets: dict[str, list[dict]] = {"SERVICE": [], "TEAM": [], "MEMBER": [], "BLACKOUT": []}
        with translated():
            for item in CatalogItem.query(CATALOG_PK):
                kind = item.sk.split("#", 1)[0]
                if kind in buckets:
                    buckets[kind].append(item.doc)
        return codec.catalog_from_docs(buckets["SERVICE"], buckets["TEAM"], buckets["MEMBER"],
                                       buckets["BLACKOUT"])

    def _put(self, sk: str, kind: str, doc: dict, version: int = 1, condition=None) -> None:
        with translated():
            CatalogItem(CATALOG_PK, sk, kind=kind, doc=doc, version=version).save(condition=condition)

    def put_service(self, service: Service) -> None:
        self._put(f"SERVICE#{service.id}", "service", codec.service_to_doc(service))

    def put_team(self, team: Team, expected_version: int | None = None) -> None:
        condition = None
        if expected_version is not None:
            condition = CatalogItem.version == expected_version
        try:
            self._put(f"TEAM#{team.id}", "team", codec.team_to_doc(team), team.version, condition)
        except PutError as exc:
            if response_code(exc) == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(details={"teamId": team.id}) from exc
            raise

    def put_member(self, member: TeamMember) -> None:
        self._put(f"MEMBER#{member.id}", "member", codec.member_to_doc(member))

    def put_global_blackout(self, blackout: Blackout) -> None:
        self._put(f"BLACKOUT#{blackout.id}", "blackout", codec.blackout_to_doc(blackout))
