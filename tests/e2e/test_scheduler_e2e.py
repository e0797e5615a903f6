"""The local scheduler `make run` starts (devtools/scheduler.py), as its own process against the stack: it runs
each of app.py's Rate jobs through app.py's handlers, and they succeed against moto, the Stripe stub and SES."""
from __future__ import annotations

import time

import pytest
import requests

from devtools.processes import stop
from devtools.run import SCHEDULER

pytestmark = pytest.mark.e2e
FIRST_ROUND_SECONDS = 60


def test_the_scheduler_runs_every_rate_job_of_app_py_against_the_stack(stack):
    child = stack.start_component(SCHEDULER)
    try:
        deadline = time.monotonic() + FIRST_ROUND_SECONDS
        while True:
            status = requests.get(child.url + "/", timeout=10).json()
            if all(job["runs"] >= 1 for job in status["jobs"].values()):
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
    finally:
        stop(child)  # its next turns must not run the jobs under the other tests' feet

    jobs = status["jobs"]
    assert set(jobs) == {"send_reminders", "send_outbox", "expire_holds"} and status["notRun"] == ["reconcile_payments"]
    for name, job in jobs.items():
        assert job["failures"] == 0 and job["lastError"] is None, (name, job)
        assert isinstance(job["lastResult"], dict), (name, job)  # each job answers its run's summary
