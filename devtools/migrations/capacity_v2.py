"""capacity-v2: rebuild the capacity table's v2 items (one partition per team and month: team-day and member-day
items, adapters/dynamodb/keys.py) from the active service requests, keeping the admin day overrides of the v1
items (pk=CAP#<yyyy-mm>, sk=<date>#T#<team>#DAY with limitOverride).

- Computed, not copied: each team's items are rebuilt from its active requests (PENDING_PAYMENT, CONFIRMED, read
  through the by_team index), so counters equal bookings afterwards even where v1 counters had drifted.
- Idempotent: a team's items are written whole (Put), and v2 items of that team's months that no active request
  explains any more are deleted, so a re-run writes the same state.
- Resumable: teams are done one at a time and each finished team is recorded in the step's state (ops table,
  pk=MIGRATION#capacity_v2, sk=STATE, as every devtools.migrate step); a run that dies resumes with the next team.
  `restart=True` (or `python -m devtools.migrate --step capacity_v2` once done) starts over.
- Run it while no v1 code writes bookings (deploy order: stop v1 writers, migrate, start v2); v1 items are left in
  place (nothing reads them) and can be deleted once v2 is live.
"""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.booking_repository import from_item
from chalicelib.adapters.dynamodb.capacity_store import put_whole
from chalicelib.adapters.dynamodb.models import CapacityCounter, ServiceRequestItem
from chalicelib.domain import availability as av
from chalicelib.domain.booking import DAY_TALLIES, ServiceRequest

NAME = "capacity_v2"


def run(restart: bool = False, teams: list[str] | None = None, stop_after: int | None = None,
        state: dict | None = None) -> dict:
    """Migrate every team (or `teams`), `stop_after` teams at most, continuing from `state` (default: the saved
    one). Returns the new state: teams done, counts, `done` once no team remains."""
    from devtools.migrate import load_state, save_state
    done = [] if restart else list((load_state(NAME) if state is None else state).get("teams", []))
    overrides = v1_overrides()
    all_teams = sorted(set(teams or _known_teams()) | {t for t, _ in overrides})
    written = deleted = migrated = 0
    for team_id in all_teams:
        if team_id in done:
            continue
        if stop_after is not None and migrated >= stop_after:
            break
        requests = _requests(team_id)
        items = team_items(team_id, requests, overrides)
        # Every v2 item an earlier run wrote came from one of the team's requests (never deleted), active then.
        partitions = {pk for pk, _ in items} | {pk for r in requests for pk in _partitions_of(r)}
        w, d = _write_team(items, partitions)
        written, deleted, migrated = written + w, deleted + d, migrated + 1
        done.append(team_id)
        save_state(NAME, {"teams": done, "done": False})
    remaining = [t for t in all_teams if t not in done]
    result = {"teams": done, "done": not remaining, "teamsMigrated": migrated, "teamsDone": len(done),
              "teamsRemaining": len(remaining), "itemsWritten": written, "itemsDeleted": deleted}
    save_state(NAME, result)
    return result


def team_items(team_id: str, requests: list[ServiceRequest],
               overrides: dict[tuple[str, str], tuple[int, str | None]]) -> dict[tuple[str, str], dict]:
    """The v2 items (key -> attributes) the team's requests and its v1 day overrides make: the capacity of those
    holding it, and the team-day tallies (cancelled, noShows) of those in a tallied status."""
    items: dict[tuple[str, str], dict] = {}
    for request in requests:
        p = request.placement
        tally = DAY_TALLIES.get(request.status)
        if tally is not None:
            item = items.setdefault(keys.team_day_key(p.team_id, p.local_date), {"count": 0})
            item[tally] = item.get(tally, 0) + 1
        if not request.holds_capacity:
            continue
        plan = av.CapacityPlan(team_id=p.team_id, member_id=p.member_id, local_date=p.local_date, cells=p.cells,
                               daily_limit=0, slot_capacity=0, team_version=0, timezone=p.timezone)
        for change in keys.changes(request.id, claim=plan):
            if change.has_actions:
                items[change.key] = keys.applied(change, items.get(change.key))
    for (team, day), (limit, reason) in overrides.items():
        if team == team_id:
            item = items.setdefault(keys.team_day_key(team, day), {"count": 0})
            item.update({"limitOverride": limit, **({"overrideReason": reason} if reason else {})})
    return items


def v1_overrides() -> dict[tuple[str, str], tuple[int, str | None]]:
    """(team, date) -> (limitOverride, reason) of v1 day items (a Scan filtered on the attribute: migration only)."""
    out = {}
    for item in CapacityCounter.scan(CapacityCounter.limitOverride.exists()):
        parts = item.sk.split("#")
        if item.pk.count("#") == 1 and len(parts) == 4 and parts[3] == "DAY":
            out[(parts[2], parts[0])] = (int(item.limitOverride), item.overrideReason)
    return out


def _known_teams() -> list[str]:
    from chalicelib.adapters.dynamodb.models import CatalogItem
    return [i.sk[len("TEAM#"):] for i in CatalogItem.query("CATALOG", CatalogItem.sk.startswith("TEAM#"))]


def _requests(team_id: str) -> list[ServiceRequest]:
    return [from_item(i) for i in ServiceRequestItem.by_team.query(team_id)]


def _partitions_of(request: ServiceRequest) -> set[str]:
    p = request.placement
    return {keys.partition(p.team_id, day) for day in {p.local_date, *(keys.cell_date(c, p.timezone) for c in p.cells)}}


def _write_team(items: dict[tuple[str, str], dict], partitions: set[str]) -> tuple[int, int]:
    """Put every computed item whole; delete the team's v2 items that nothing explains any more."""
    stale = [key for pk in sorted(partitions) for key in _keys_in(pk) if key not in items]
    put_whole(items)
    for pk, sk in stale:
        CapacityCounter(pk, sk).delete()
    return len(items), len(stale)


def _keys_in(pk: str) -> list[tuple[str, str]]:
    return [(i.pk, i.sk) for i in CapacityCounter.query(pk, attributes_to_get=["pk", "sk"])]
