"""Exactly once for emergency requests: killed after the transaction, retried after the record expired -> the one
booking is answered again (the earliest slot is chosen on each attempt, so only the key identifies it)."""
from __future__ import annotations

import json

import pytest

from tests.integration.conftest import auth
from tests.integration.test_emergency_api import api, emergency  # noqa: F401
from tests.integration.test_exactly_once import DiesAfterTheTransaction, expire_idempotency_records


def test_a_killed_emergency_request_is_booked_once(api, app_container, settings):  # noqa: F811
    app_container.override(events=DiesAfterTheTransaction(app_container.events))
    with pytest.raises(SystemExit):
        emergency(api, "sos-1")
    expire_idempotency_records(settings)
    retry = emergency(api, "sos-1")
    assert retry.status_code == 201, retry.body
    assert retry.headers.get("Idempotent-Replayed") == "true"
    mine = json.loads(api.http.get("/portal/service-requests", headers=auth(api.tokens["a"])).body)["items"]
    assert [r["id"] for r in mine] == [json.loads(retry.body)["id"]]
