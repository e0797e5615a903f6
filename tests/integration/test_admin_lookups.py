"""Admin lists over sparse indexes: a team's capacity overrides (listed with a cursor, cleared with DELETE and
audited) and the requests the reconciliation flagged; each page reads only what it returns (moto + botocore
counting, as test_admin_lists)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bench import ddb_counter
from tests.integration.conftest import auth
from tests.integration.test_admin_catalog_services import audit_of, call
from tests.integration.test_admin_lists import T0, make_request, write_requests
from tests.integration.test_booking_api import DAY, NOW, api, book, small_catalog, users  # noqa: F401


def test_overrides_list_in_date_order_and_delete_restores_the_daily_limit(api, users):
    for day, limit in (("2026-12-03", 1), ("2026-12-01", 0), ("2026-12-02", 5)):
        body = {"teamId": "t1", "date": day, "limit": limit, "reason": "short staffed"}
        assert call(api, users["admin"], "post", "/admin/capacity-overrides", body)[0] == 201
    first = call(api, users["admin"], "get", "/admin/teams/t1/capacity-overrides?limit=2")[1]
    rest = call(api, users["admin"], "get", f"/admin/teams/t1/capacity-overrides?cursor={first['nextCursor']}")[1]
    assert [o["date"] for o in first["items"] + rest["items"]] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert book(api, users["a"], "k1").status_code == 409  # the day's override is 0
    deleted = api.http.delete("/admin/teams/t1/capacity-overrides/2026-12-01?reason=staff%20back",
                              headers=auth(users["admin"]))
    assert deleted.status_code == 204
    assert book(api, users["a"], "k2").status_code == 201
    left = call(api, users["admin"], "get", "/admin/teams/t1/capacity-overrides")[1]["items"]
    assert [o["date"] for o in left] == ["2026-12-02", "2026-12-03"]
    again = api.http.delete("/admin/teams/t1/capacity-overrides/2026-12-01", headers=auth(users["admin"]))
    assert again.status_code == 404
    bad = api.http.delete("/admin/teams/t1/capacity-overrides/someday", headers=auth(users["admin"]))
    assert bad.status_code == 400
    assert "capacity.override.cleared" in [e["action"] for e in audit_of("TEAM#t1")]
    assert call(api, users["admin"], "get", "/admin/teams/nope/capacity-overrides")[0] == 404


def test_flagged_list_reads_only_flagged_requests(api, users):
    from chalicelib.domain.payment import ReconciliationNote

    plain = [make_request(i, "t1", "CONFIRMED", "COD_DUE", T0 + timedelta(hours=i)) for i in range(60)]
    flagged = []
    for i in range(3):
        request = make_request(100 + i, "t1", "CONFIRMED", "PAID", T0 + timedelta(hours=i))
        note = ReconciliationNote(kind="amount_mismatch", session_id=f"cs_{i}", at=T0, details={"expected": 1})
        flagged.append(replace(request, payment=replace(request.payment, reconciliation_notes=(note,)),
                               updated_at=T0 + timedelta(minutes=i)))
    write_requests(plain + flagged)
    from chalicelib.adapters.dynamodb.models import MODELS_BY_SETTING

    ddb_counter.install()
    for model in MODELS_BY_SETTING.values():
        model._connection = None  # rebound, so the counting hooks see their clients
    ddb_counter.reset()
    seen, cursor = [], None
    while True:
        status, page = call(api, users["admin"], "get",
                            "/admin/reconciliation/flagged?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        seen += [(r["id"], r["reconciliationNotes"][0]["kind"]) for r in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == [(r.id, "amount_mismatch") for r in flagged]
    assert ddb_counter.items_read_from("flagged") == len(flagged)
    assert ddb_counter.items_read() == len(flagged)  # none of the 60 unflagged requests
