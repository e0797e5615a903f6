"""Cancelling a whole series, killed after some occurrences' transactions stood: the customer's retry cancels
the rest, each occurrence is cancelled (released, audited) exactly once, and the answer accounts for all."""
from __future__ import annotations

import json

import pytest

from tests.faults.crash import ProcessDied, dies_after, restart
from tests.faults.invariants import assert_consistent
from tests.integration.test_series_booking import NOW, api, book, post  # noqa: F401


@pytest.mark.parametrize("after", [1, 2, 3])
def test_a_killed_series_cancel_is_finished_by_the_retry(api, app_container, after):
    series = json.loads(book(api, "a", "s1", recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}).body)
    ids = sorted(r["id"] for r in series["items"])
    dying = dies_after(app_container, "requests", "release", after=after)
    path = f"/portal/series/{series['seriesId']}/cancel"
    with pytest.raises(ProcessDied):
        post(api, path, "a", {"reason": "moving"})
    assert dying.kills == 1
    restart(app_container, clock=lambda: NOW)

    retry = post(api, path, "a", {"reason": "moving"})
    assert retry.status_code == 200, retry.body
    body = json.loads(retry.body)
    answered = body["cancelled"] + body["unchanged"]
    assert sorted(r["id"] for r in answered) == ids and all(r["status"] == "CANCELLED" for r in answered)
    assert len(body["cancelled"]) == 3 - after  # what the killed run cancelled is not cancelled again
    stored = assert_consistent()
    assert sorted(r.id for r in stored if r.status.value == "CANCELLED") == ids
    for request_id in ids:
        audit = app_container.audit.for_entity(f"SR#{request_id}")
        assert [e["action"] for e in audit] == ["service_request.cancelled"]
