"""The invariant checker catches what it is there to catch: each kind of inconsistency a crash could leave,
planted by hand into otherwise consistent tables, is reported (so a fault test that passes means something)."""
from __future__ import annotations

import json

import pytest

from tests.faults.invariants import problems
from tests.integration.conftest import auth
from tests.integration.test_booking_api import api, body_of, book, small_catalog, users  # noqa: F401


@pytest.fixture
def booked(api, users) -> dict:
    """Two bookings (one cancelled, so the tables hold a change and its audit entry); consistent as made."""
    kept = body_of(book(api, users["a"], "k1"))
    cancelled = body_of(book(api, users["b"], "k2"))
    response = api.http.post(f"/portal/service-requests/{cancelled['id']}/cancel", headers=auth(users["b"]), body="")
    assert response.status_code == 200, response.body
    assert problems() == []
    return {"kept": kept["id"], "cancelled": cancelled["id"]}


def only(found: list[str], fragment: str) -> None:
    assert found and all(fragment in p for p in found), found


def capacity_table():
    import boto3

    from chalicelib.adapters.dynamodb.models import CapacityCounter
    return boto3.resource("dynamodb", region_name="us-east-1").Table(CapacityCounter.Meta.table_name)


def capacity_items() -> list[dict]:
    return capacity_table().scan(ConsistentRead=True)["Items"]


def test_a_counter_off_by_one_is_reported(booked):
    day = next(i for i in capacity_items() if i["sk"].endswith("#DAY"))
    capacity_table().update_item(Key={"pk": day["pk"], "sk": day["sk"]}, UpdateExpression="ADD #c :one",
                                 ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues={":one": 1})
    only(problems(), "#DAY: stored 2, bookings 1")


@pytest.mark.parametrize("delta,fragment", [(1, "cancelled: stored 2, requests 1"),
                                            (-1, "cancelled: stored 0, requests 1")])
def test_a_cancellation_tally_counted_twice_or_lost_is_reported(booked, delta, fragment):
    day = next(i for i in capacity_items() if i["sk"].endswith("#DAY"))
    assert day["cancelled"] == 1  # the cancel of the fixture counted once
    capacity_table().update_item(Key={"pk": day["pk"], "sk": day["sk"]}, UpdateExpression="ADD cancelled :d",
                                 ExpressionAttributeValues={":d": delta})
    only(problems(), fragment)


def test_a_missing_or_extra_busy_cell_is_reported(booked):
    from chalicelib.adapters.dynamodb import keys
    member_day = next(i for i in capacity_items() if "#M#" in i["sk"] and any(a.startswith(keys.BUSY) for a in i))
    cells = sorted(a for a in member_day if a.startswith(keys.BUSY))
    table = capacity_table()
    table.update_item(Key={"pk": member_day["pk"], "sk": member_day["sk"]}, UpdateExpression="REMOVE #b",
                      ExpressionAttributeNames={"#b": cells[0]})
    only(problems(), f"#S#{cells[0][len(keys.BUSY):]}: stored 0, bookings 1")
    table.update_item(Key={"pk": member_day["pk"], "sk": member_day["sk"]}, UpdateExpression="SET #b = :r",
                      ExpressionAttributeNames={"#b": keys.BUSY + "2099-01-01T00:00Z"},
                      ExpressionAttributeValues={":r": "sr_nobody"})
    assert len(problems()) == 2


def test_a_change_without_its_audit_entry_is_reported(booked):
    from chalicelib.adapters.dynamodb.models import AuditEntryItem
    [entry] = list(AuditEntryItem.query(f"SR#{booked['cancelled']}"))
    entry.delete()
    only(problems(), f"request {booked['cancelled']}: ('CANCELLED', 'COD_DUE') at sequence 1 with no audit entry")


def test_a_change_audited_twice_is_reported(booked):
    from chalicelib.adapters.dynamodb.models import AuditEntryItem
    [entry] = list(AuditEntryItem.query(f"SR#{booked['cancelled']}"))
    AuditEntryItem(entry.pk, entry.sk + "-again", day=entry.day, doc=entry.doc).save()
    found = problems()
    assert any("a change audited twice" in p for p in found) and all(booked["cancelled"] in p for p in found), found


def test_a_state_the_audit_trail_does_not_end_at_is_reported(booked):
    from tests.integration.payments_support import stored
    from tests.integration.test_payments_reconcile import _force
    _force(booked["cancelled"], sequence=stored(booked["cancelled"]).sequence + 1)  # written, never audited
    only(problems(), "audit trail ends at")


def test_an_answer_naming_a_request_that_does_not_exist_is_reported(booked):
    import boto3

    from chalicelib.settings import get_settings
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(get_settings().idempotency_table)
    [record] = [r for r in table.scan()["Items"] if booked["kept"] in r.get("data", "")]
    answer = json.loads(record["data"])
    answer["body"]["id"] = "sr_never_made"
    table.update_item(Key={"id": record["id"]}, UpdateExpression="SET #d = :d",
                      ExpressionAttributeNames={"#d": "data"}, ExpressionAttributeValues={":d": json.dumps(answer)})
    only(problems(), "answers request sr_never_made, which does not exist")


def test_an_event_claim_left_processing_is_reported(booked):
    from chalicelib.adapters.dynamodb.models import OpsItem
    OpsItem("STRIPE_EVENT#evt_1", "EVENT", state="processing", claimedAt=0).save()
    only(problems(), "Stripe event claim STRIPE_EVENT#evt_1 left processing")


def test_a_booking_missing_from_the_revenue_ledger_is_reported(booked):
    import boto3

    from chalicelib.adapters.dynamodb.models import OpsItem
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(OpsItem.Meta.table_name)
    ledger = [i for i in table.scan()["Items"] if i["pk"].startswith("REVENUE#")]
    assert ledger  # the two bookings wrote theirs
    table.update_item(Key={"pk": ledger[0]["pk"], "sk": ledger[0]["sk"]}, UpdateExpression="ADD booked :m",
                      ExpressionAttributeValues={":m": -1})
    only(problems(), "revenue ledger")


def _with_note(deps, request_id: str, kind: str) -> None:
    """Add an open note to the request, audited as the payment code audits it (consistent)."""
    from chalicelib.domain import codec
    from chalicelib.domain.payment import ReconciliationNote
    current = deps.requests.get(request_id)
    note = ReconciliationNote(kind, "cs_1", current.updated_at, {})
    new = current.with_changes(payment=current.payment.with_changes(
        reconciliation_notes=current.payment.reconciliation_notes + (note,)))
    deps.requests.save(current, new, (deps.audit.action(f"SR#{request_id}", "system", "payment.flagged",
                                                        codec.request_to_doc(current), codec.request_to_doc(new)),))


@pytest.mark.parametrize("noted", [False, True])
def test_a_flagged_key_out_of_step_with_the_open_notes_is_reported(booked, noted):
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    from chalicelib.bootstrap import container
    if noted:
        _with_note(container(), booked["kept"], "amount_mismatch")
        assert problems() == []
    [item] = [i for i in ServiceRequestItem.scan() if booked["kept"] in json.dumps(i.attribute_values, default=str)]
    flag = ServiceRequestItem.flaggedKey
    item.update(actions=[flag.remove() if noted else flag.set("FLAGGED")])
    only(problems(), "flaggedKey None with 1 open notes" if noted else "flaggedKey 'FLAGGED' with 0 open notes")


def test_a_resolve_is_audited_and_one_written_without_its_entry_is_reported(booked):
    from chalicelib.bootstrap import container
    from chalicelib.domain.notes import notes_resolved
    from chalicelib.domain.principal import Principal
    from chalicelib.services import flags
    deps, request_id = container(), booked["kept"]
    _with_note(deps, request_id, "amount_mismatch")
    flags.resolve_notes(deps, Principal("boss", groups=("admin",)), request_id, None, "settled")
    assert problems() == []  # the resolve's own entry accounts for it (same note count, fewer open)
    _with_note(deps, request_id, "refund_failed")
    current = deps.requests.get(request_id)
    deps.requests.save(current, notes_resolved(current, None, "admin:x", current.updated_at, "unaudited").new, ())
    only(problems(), "audit trail ends at")
