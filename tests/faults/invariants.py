"""The invariant checker over the tables (in-process moto): what every key, request and counter must look like
once the dust of a crash and its retries has settled. `problems()` lists every violation in words;
`assert_consistent()` fails with that list. Read straight from the tables (scans are fine in a test), never
through the code under test, so a bug in a repository cannot hide itself.

- capacity: every team-day count, slot-cell crew count and member-day load equals the number of capacity-holding
  requests that cover it, and the members' busy cells are exactly those requests' cells, each held once;
- audit: a request that left its initial state has an audit trail ending at its stored state (status, payment
  status, session, placement, sequence, notes and how many are open), and no change was audited twice (two
  entries from one state);
- flagged: flaggedKey is set exactly on the requests with an open reconciliation note;
- tallies: each team-day's `cancelled` / `noShows` equals its requests in that status (a retry counts nothing);
- idempotency: a completed key's stored success names requests that exist;
- Stripe events: no claim is left `processing` (a redelivery after a crash must have finished it);
- revenue ledger: per UTC day and currency, `booked` is the prices of the requests created that day and
  `codCollected` the prices of those whose cash was collected that day (each request counted once).
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import timezone

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.booking_repository import from_item
from chalicelib.domain.booking import ServiceRequest, initial_states


def stored_requests() -> list[ServiceRequest]:
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    return [from_item(item) for item in ServiceRequestItem.scan()]


def expected_capacity(requests: list[ServiceRequest]) -> Counter:
    """The counters the capacity-holding requests add up to, named as tests/capacity_view.flat_counters names them:
    team-day count, member-day load, slot-cell crews and member busy cells (1 each; two holders count 2)."""
    counts: Counter = Counter()
    for r in requests:
        if not r.holds_capacity:
            continue
        p = r.placement
        counts[f"{p.local_date}#T#{p.team_id}#DAY"] += 1
        counts[f"{p.local_date}#T#{p.team_id}#M#{p.member_id}#DAY"] += 1
        for cell in p.cells:
            day = keys.cell_date(cell, p.timezone)
            counts[f"{day}#T#{p.team_id}#S#{cell}"] += 1
            counts[f"{day}#T#{p.team_id}#M#{p.member_id}#S#{cell}"] += 1
    return counts


def capacity_problems(requests: list[ServiceRequest]) -> list[str]:
    from tests.capacity_view import flat_counters
    expected, stored = expected_capacity(requests), flat_counters(nonzero=True)
    return [f"counter {name}: stored {stored.get(name, 0)}, bookings {expected.get(name, 0)}"
            for name in sorted(set(expected) | set(stored)) if stored.get(name, 0) != expected.get(name, 0)]


def audited_state(doc: dict) -> tuple:
    """What an audit entry must account for: the fields a state change moves (not the reminder marks or the
    recorded checkout error, which are bookkeeping written without an audit entry)."""
    payment = doc.get("payment") or {}
    return (doc["status"], doc["paymentStatus"], payment.get("sessionId"), payment.get("paidSessionId"),
            bool(payment.get("awaitingSettlement")), len(payment.get("reconciliationNotes") or ()),
            open_notes(payment), payment.get("amountRefunded"), doc["start"], doc["memberId"], doc["sequence"])


def open_notes(payment: dict) -> int:
    """Notes no admin resolved (resolving one is a change of its own, audited like any other)."""
    return sum(1 for n in payment.get("reconciliationNotes") or () if "resolvedAt" not in n)


def flagged_problems() -> list[str]:
    """flaggedKey is set exactly on the requests with an open note (the admin's flagged list is complete and
    lists nothing settled)."""
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    from chalicelib.domain import codec
    out = []
    for item in ServiceRequestItem.scan():
        doc = codec.request_to_doc(from_item(item))
        if bool(item.flaggedKey) != bool(open_notes(doc["payment"])):
            out.append(f"request {doc['id']}: flaggedKey {item.flaggedKey!r} with {open_notes(doc['payment'])} "
                       f"open notes")
    return out


def audit_problems(requests: list[ServiceRequest]) -> list[str]:
    from chalicelib.adapters.dynamodb.models import AuditEntryItem
    from chalicelib.domain import codec
    trails: dict[str, list[dict]] = {}
    for item in AuditEntryItem.scan():
        if item.pk.startswith("SR#"):
            trails.setdefault(item.pk[3:], []).append(item.doc)
    out = []
    for r in requests:
        trail = trails.get(r.id, [])
        state = audited_state(codec.request_to_doc(r))
        befores = Counter(audited_state(e["before"]) for e in trail if e.get("before"))
        twice = [s for s, n in befores.items() if n > 1]
        if twice:
            out.append(f"request {r.id}: a change audited twice from {twice}")
        if not trail:
            initial = tuple(v.value for v in initial_states(r.payment_method))
            if (r.status.value, r.payment_status.value) != initial or r.sequence != 0:
                out.append(f"request {r.id}: {state[:2]} at sequence {r.sequence} with no audit entry")
            continue
        # The trail's end: the one `after` that is no other entry's `before` (entries form a chain).
        ends = [e for e in trail if audited_state(e["after"]) not in befores]
        if [audited_state(e["after"]) for e in ends] != [state]:
            out.append(f"request {r.id}: stored {state}, audit trail ends at "
                       f"{[audited_state(e['after']) for e in ends]}")
    return out


def idempotency_problems(requests: list[ServiceRequest]) -> list[str]:
    """Powertools' layout: `data` is the JSON of {"ok", "body"} (adapters/idempotency.py)."""
    import boto3

    from chalicelib.settings import get_settings
    by_id = {r.id: r for r in requests}
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(get_settings().idempotency_table)
    out = []
    for record in table.scan()["Items"]:
        if record.get("status") != "COMPLETED" or not record.get("data"):
            continue
        answer = json.loads(record["data"])
        body = answer.get("body") if isinstance(answer, dict) and answer.get("ok") else None
        if not isinstance(body, dict):
            continue
        for item in body.get("items") or ([body] if "id" in body else []):
            if item.get("id") not in by_id:
                out.append(f"idempotency record {record['id']}: answers request {item.get('id')}, which does not exist")
    return out


def event_claim_problems() -> list[str]:
    from chalicelib.adapters.dynamodb.models import OpsItem
    return [f"Stripe event claim {item.pk} left {item.state}" for item in OpsItem.scan()
            if item.pk.startswith("STRIPE_EVENT#") and item.state != "done"]


def tally_problems(requests: list[ServiceRequest]) -> list[str]:
    """Each team-day's `cancelled` and `noShows` equal the requests of that day in that status (counted once)."""
    from chalicelib.adapters.dynamodb.capacity_store import plain
    from chalicelib.adapters.dynamodb.models import CapacityCounter
    from chalicelib.domain.booking import DAY_TALLIES
    expected = Counter((keys.team_day_key(r.placement.team_id, r.placement.local_date), DAY_TALLIES[r.status])
                       for r in requests if r.status in DAY_TALLIES)
    stored: Counter = Counter()
    for raw in CapacityCounter._get_connection().scan(consistent_read=True).get("Items", []):
        item = plain(raw)
        for attr in DAY_TALLIES.values():
            if item.get(attr):
                stored[((item["pk"], item["sk"]), attr)] = int(item[attr])
    return [f"tally {key[1]} {attr}: stored {stored.get((key, attr), 0)}, requests {expected.get((key, attr), 0)}"
            for key, attr in sorted(set(expected) | set(stored)) if stored.get((key, attr)) != expected.get((key, attr))]


def revenue_problems(requests: list[ServiceRequest]) -> list[str]:
    import boto3

    from chalicelib.adapters.dynamodb.models import OpsItem

    def key(instant, request: ServiceRequest, kind: str) -> tuple[str, str, str]:
        return instant.astimezone(timezone.utc).date().isoformat(), request.price["currency"].upper(), kind

    expected: Counter = Counter()
    for r in requests:
        expected[key(r.created_at, r, "booked")] += int(r.price["total"])
        if r.payment.collected_at is not None:
            expected[key(r.payment.collected_at, r, "codCollected")] += int(r.price["total"])
    found: Counter = Counter()
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(OpsItem.Meta.table_name)
    for item in table.scan(ConsistentRead=True)["Items"]:  # a test's ops table is one page
        if item["pk"].startswith("REVENUE#"):
            day, currency, _ = item["sk"].split("#")
            for kind in ("booked", "codCollected"):
                found[(day, currency, kind)] += int(item.get(kind, 0))
    return [f"revenue ledger {k}: {found[k]}, requests say {expected[k]}"
            for k in sorted(set(expected) | set(found)) if found[k] != expected[k]]


def problems() -> list[str]:
    requests = stored_requests()
    return (capacity_problems(requests) + audit_problems(requests) + idempotency_problems(requests)
            + tally_problems(requests) + event_claim_problems() + revenue_problems(requests) + flagged_problems())


def assert_consistent() -> list[ServiceRequest]:
    """Fails with every violation found; returns the stored requests for further assertions."""
    found = problems()
    assert not found, "inconsistent after the crash and retry:\n" + "\n".join(found)
    return stored_requests()
