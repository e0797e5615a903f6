"""`python -m devtools.migrate` against the local stack: requests stored before the admin-list keys are missing
from the combination lists until the backfill runs, and are listed over HTTP afterwards."""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from devtools.processes import python_module
from tests.integration.test_admin_lists import STATES, make_request, write_requests

pytestmark = pytest.mark.e2e
TEAM = "team-migrated-e2e"  # no other test writes this team's requests
FAR = datetime(2031, 3, 3, 8, 0, tzinfo=timezone.utc)  # outside any window the stack's jobs look at


def listed(stack, http, **query) -> list[str]:
    ids, cursor = [], None
    while True:
        params = {**query, "limit": 5, **({"cursor": cursor} if cursor else {})}
        response = http.get(stack.url("/admin/service-requests"), params=params, headers=stack.auth("admin"))
        assert response.status_code == 200, response.text
        ids += [item["id"] for item in response.json()["items"]]
        cursor = response.json()["nextCursor"]
        if not cursor:
            return ids


def test_the_backfill_command_brings_old_items_into_the_lists_of_the_local_stack(stack, http):
    stack.bind_models()
    old = [make_request(90_000 + i, TEAM, *STATES[i % len(STATES)], FAR + timedelta(hours=i)) for i in range(24)]
    write_requests(old, old_layout=True)
    pending = [r.id for r in old if r.status.value == "PENDING_PAYMENT"]
    assert pending and listed(stack, http, teamId=TEAM, status="PENDING_PAYMENT") == []
    assert len(listed(stack, http, teamId=TEAM)) == len(old)  # an index that existed before: there already

    result = subprocess.run(python_module("devtools.migrate"), env=stack.env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert listed(stack, http, teamId=TEAM, status="PENDING_PAYMENT") == pending
    assert listed(stack, http, teamId=TEAM, status="CONFIRMED", paymentStatus="PAID") == [
        r.id for r in old if (r.status.value, r.payment_status.value) == ("CONFIRMED", "PAID")]
