"""The capacity table (v2 items, adapters/dynamodb/keys.py) seen as one named counter per team-day, slot cell,
member-day and member cell, for tests that compare counters with bookings. Reads with a Scan: tests only."""
from __future__ import annotations


def flat_counters(nonzero: bool = False) -> dict[str, int]:
    """{"<date>#T#<team>#DAY": n, "<date>#T#<team>#S#<cell>": n, "<date>#T#<team>#M#<member>#DAY": n,
    "<date>#T#<team>#M#<member>#S#<cell>": 1 (held)} over every v2 capacity item."""
    from chalicelib.adapters.dynamodb import keys
    from chalicelib.adapters.dynamodb.capacity_store import plain
    from chalicelib.adapters.dynamodb.models import CapacityCounter

    out: dict[str, int] = {}
    connection, start = CapacityCounter._get_connection(), None
    while True:
        page = connection.scan(exclusive_start_key=start, consistent_read=True)
        for raw in page.get("Items", []):
            pk, sk, item = raw["pk"]["S"], raw["sk"]["S"], plain(raw)
            if pk.count("#") < 2:
                continue  # a v1 item (migration tests)
            team, (day, _, rest) = keys.team_of(pk), sk.partition("#")
            prefix = f"{day}#T#{team}" if rest == "DAY" else f"{day}#T#{team}#M#{rest[2:]}"
            out[f"{prefix}#DAY"] = int(item.get("count", 0))
            for attr, value in item.items():
                if attr.startswith(keys.SLOT):
                    out[f"{prefix}#S#{attr[len(keys.SLOT):]}"] = int(value)
                elif attr.startswith(keys.BUSY):
                    out[f"{prefix}#S#{attr[len(keys.BUSY):]}"] = 1
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return {k: v for k, v in out.items() if v or not nonzero}


def claim_directly(request_id: str, plan) -> None:
    """The capacity items a booking claims, written without the transaction (bulk setup)."""
    from chalicelib.adapters.dynamodb import keys
    from chalicelib.adapters.dynamodb.capacity_store import actions_of
    from chalicelib.adapters.dynamodb.models import CapacityCounter

    for change in keys.changes(request_id, claim=plan):
        if change.has_actions:
            CapacityCounter(*change.key).update(actions=actions_of(change))


def day_view(team_id: str, local_day: str) -> dict[str, int | str]:
    """One team-local day's capacity, named as suffixes: "DAY", "S#<cell>" (counts), "M#<member>#DAY" (load),
    "M#<member>#S#<cell>" (the holding request id). A consistent Query of the team's partition."""
    from chalicelib.adapters.dynamodb import keys
    from chalicelib.adapters.dynamodb.capacity_store import plain
    from chalicelib.adapters.dynamodb.models import CapacityCounter

    page = CapacityCounter._get_connection().query(
        keys.partition(team_id, local_day), range_key_condition=CapacityCounter.sk.startswith(f"{local_day}#"),
        consistent_read=True)
    out: dict[str, int | str] = {}
    for raw in page.get("Items", []):
        item, rest = plain(raw), raw["sk"]["S"].partition("#")[2]
        prefix = "" if rest == "DAY" else f"{rest}#"
        out[f"{prefix}DAY"] = int(item.get("count", 0))
        for attr, value in item.items():
            if attr.startswith((keys.SLOT, keys.BUSY)):
                out[f"{prefix}S#{attr[2:]}"] = value
    return out
