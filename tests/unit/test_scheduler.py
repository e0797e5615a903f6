"""The local scheduler (devtools/scheduler.py): app.py's Rate jobs at their rates, a failing job not stopping any."""
from __future__ import annotations

from chalice import Chalice, Cron, Rate

from devtools.scheduler import Schedule, rate_seconds, schedule_from_app


def test_rates_are_read_from_app_py_and_cron_jobs_are_left_to_run_on_demand():
    import app

    calls = []
    schedule = schedule_from_app(app.app, calls.append)

    assert {job.name: job.every_seconds for job in schedule.jobs} == {
        "send_reminders": 15 * 60, "send_outbox": 60, "expire_holds": 5 * 60}
    assert schedule.not_run == ["reconcile_payments"]
    assert calls == []  # reading the schedule runs nothing


def test_rate_seconds_of_each_unit_and_of_what_is_not_a_rate():
    assert rate_seconds(Rate(2, unit=Rate.HOURS)) == 7200
    assert rate_seconds(Rate(1, unit=Rate.DAYS)) == 86400
    assert rate_seconds(Cron(30, "3-6", "*", "*", "?", "*")) is None
    assert rate_seconds("rate(5 minutes)") is None


def _schedule(calls: list[str]) -> Schedule:
    demo = Chalice("demo")

    @demo.schedule(Rate(1, unit=Rate.MINUTES))
    def every_minute(event):
        return None

    @demo.schedule(Rate(5, unit=Rate.MINUTES))
    def every_five(event):
        return None

    def invoke(name: str) -> str:
        calls.append(name)
        if name == "every_five" and calls.count(name) == 1:
            raise RuntimeError("SES is down")
        return f"{name} done"

    return schedule_from_app(demo, invoke)


def test_each_job_runs_at_start_then_at_its_rate_and_never_early():
    calls: list[str] = []
    schedule = _schedule(calls)

    assert sorted(schedule.run_due(1000.0)) == ["every_five", "every_minute"]
    assert schedule.run_due(1059.0) == []
    assert schedule.seconds_to_next(1059.0) == 1.0
    assert schedule.run_due(1060.0) == ["every_minute"]
    assert schedule.run_due(1299.0) == ["every_minute"]  # late: once, not once per missed minute
    assert schedule.run_due(1300.0) == ["every_five"]
    assert calls.count("every_minute") == 3 and calls.count("every_five") == 2


def test_a_failing_job_is_recorded_and_runs_again_at_its_next_turn():
    calls: list[str] = []
    schedule = _schedule(calls)

    schedule.run_due(0.0)
    status = schedule.status()["jobs"]
    assert status["every_five"]["failures"] == 1 and "SES is down" in status["every_five"]["lastError"]
    assert status["every_minute"] == {"everySeconds": 60, "runs": 1, "failures": 0,
                                      "lastResult": "every_minute done", "lastError": None}

    schedule.run_due(300.0)
    status = schedule.status()["jobs"]["every_five"]
    assert status["runs"] == 2 and status["lastError"] is None and status["lastResult"] == "every_five done"
