"""app.py's scheduled jobs, locally: what EventBridge does for the deployed app.

`make run` starts this process so that, as in AWS, the outbox sender runs every minute, hold expiry every five
and reminders every fifteen: a message whose first send failed is retried, a lapsed card hold is released and
reminders reach the mailbox without anyone running a job by hand. Each job's rate is read from app.py's own
`@app.schedule(Rate(...))` declarations, so the two cannot drift. A `Cron` job (the nightly reconciliation) is
not run here: locally there is no night to wait for, and `POST /admin/jobs/reconcile` runs it on demand.

Each job runs once at start and then at its rate, in turn on one thread (jobs in one process never overlap; in
AWS they may, which they are built for). A job that raises is logged and runs again at its next turn. GET / on
PORT answers {"jobs": {name: {"everySeconds", "runs", "failures", "lastResult", "lastError"}}, "notRun": [...]}.

The e2e stack does not start it: tests run each job themselves, at the time they choose
(tests/e2e/scheduled_job.py).

Run: `python -m devtools.scheduler` with the local stack's environment (devtools/run.py passes it).
"""
from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from devtools.processes import PROJECT_DIR, serve_json_status

log = logging.getLogger("scheduler")

SECONDS_PER_UNIT = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
LAMBDA_TIMEOUT_MS = 60_000


@dataclass
class Job:
    name: str
    every_seconds: int
    run: Callable[[], Any]
    next_at: float = 0.0  # monotonic time of the next run; 0 = at start
    runs: int = 0
    failures: int = 0
    last_result: Any = None
    last_error: str | None = None

    def status(self) -> dict[str, Any]:
        return {"everySeconds": self.every_seconds, "runs": self.runs, "failures": self.failures,
                "lastResult": self.last_result, "lastError": self.last_error}


@dataclass
class Schedule:
    jobs: list[Job]
    not_run: list[str] = field(default_factory=list)

    def run_due(self, now: float) -> list[str]:
        """Run every job whose time has come (once each, however late), then set its next time. Returns them."""
        ran = []
        for job in self.jobs:
            if now < job.next_at:
                continue
            try:
                job.last_result = job.run()
                job.last_error = None
            except Exception as exc:  # a failing job must not stop the others, nor its own next turn
                job.failures += 1
                job.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("job %s failed", job.name)
            job.runs += 1
            job.next_at = now + job.every_seconds
            ran.append(job.name)
        return ran

    def seconds_to_next(self, now: float) -> float:
        return max(0.0, min((job.next_at for job in self.jobs), default=60.0) - now)

    def status(self) -> dict[str, Any]:
        return {"jobs": {job.name: job.status() for job in self.jobs}, "notRun": self.not_run}


def rate_seconds(expression: Any) -> int | None:
    """A chalice `Rate`'s period in seconds; None for anything else (a `Cron`, a raw string)."""
    unit = getattr(expression, "unit", None)
    value = getattr(expression, "value", None)
    if unit in SECONDS_PER_UNIT and isinstance(value, int):
        return value * SECONDS_PER_UNIT[unit]
    return None


def schedule_from_app(chalice_app: Any, invoke: Callable[[str], Any]) -> Schedule:
    """One Job per `@app.schedule(Rate(...))` of the app; the others are listed as not run."""
    jobs, not_run = [], []
    for source in chalice_app.event_sources:
        expression = getattr(source, "schedule_expression", None)
        if expression is None:
            continue  # not a schedule (websocket, stream, ...)
        seconds = rate_seconds(expression)
        if seconds is None:
            not_run.append(source.name)
            continue
        jobs.append(Job(source.name, seconds, lambda name=source.name: invoke(name)))
    return Schedule(jobs, not_run)


def scheduled_event(at: datetime, region: str) -> dict[str, Any]:
    """What EventBridge hands a scheduled Lambda firing at `at`."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [], "detail": {}}


def load_app(stage: str) -> tuple[Any, Callable[[str], Any]]:
    """app.py imported with the stage's variables applied (as chalice does), and a call of one of its jobs."""
    from chalice.local import LambdaContext

    from devtools.environment import chalice_stage_env

    os.environ.update(chalice_stage_env(stage))
    sys.path.insert(0, str(PROJECT_DIR))
    import app as app_module

    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")

    def invoke(name: str) -> Any:
        context = LambdaContext(name, memory_size=512, max_runtime_ms=LAMBDA_TIMEOUT_MS)
        return app_module.app.handler_map[name](scheduled_event(datetime.now(timezone.utc), region), context)

    return app_module.app, invoke


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    chalice_app, invoke = load_app(os.environ.get("CHALICE_STAGE", "local"))
    schedule = schedule_from_app(chalice_app, invoke)
    serve_json_status(int(os.environ["PORT"]), schedule.status)
    log.info("running %s; not run here: %s", {j.name: f"every {j.every_seconds}s" for j in schedule.jobs},
             schedule.not_run)
    try:
        while True:
            ran = schedule.run_due(time.monotonic())
            if ran:
                log.info("ran %s", ran)
            time.sleep(schedule.seconds_to_next(time.monotonic()) or 0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
