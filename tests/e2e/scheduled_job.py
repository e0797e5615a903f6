"""One scheduled job of app.py (`send_reminders`, `send_outbox`) run as its own OS process, as Lambda runs it,
against a running local stack and at a time the caller picks.

    python -m tests.e2e.scheduled_job send_reminders|send_outbox --at 2031-01-01T12:00:00+00:00
        [--die-after-claiming MESSAGE_ID] [--ready PATH --go PATH]

- Environment: the stack's (`stack.env`: moto's endpoint, the table names, the SES sender).
- `--at`: the job's clock is a FixedClock there (the composition root's clock), so a test makes a reminder due
  or a lease run out without waiting.
- `--die-after-claiming`: the process SIGKILLs itself right after its claim of that outbox message is stored,
  before SES is called. The outbox is wrapped the way tests/faults/crash.py wraps a dependency, but the death
  is real: no `finally`, no flush, no exception handler runs.
- `--ready`/`--go`: several processes start the job together: each creates its ready file once imported and
  connected, then waits for the go file.

The last line on stdout is the job's result as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from devtools.scheduler import scheduled_event

GO_TIMEOUT_SECONDS = 60
LAMBDA_TIMEOUT_MS = 60_000  # far above what one run here needs; a run that stops early reports complete=False


class DiesAfterClaiming:
    """The outbox store, except that a successful claim of `message_id` kills the process once stored."""

    def __init__(self, outbox: Any, message_id: str) -> None:
        self._outbox = outbox
        self._message_id = message_id

    def claim(self, message_id: str, *args: Any) -> Any:
        entry = self._outbox.claim(message_id, *args)
        if entry is not None and message_id == self._message_id:
            sys.stdout.flush()  # keeps the log readable; nothing else of the process's runs
            os.kill(os.getpid(), signal.SIGKILL)
        return entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._outbox, name)


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + GO_TIMEOUT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no {path} within {GO_TIMEOUT_SECONDS}s")
        time.sleep(0.005)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.scheduled_job")
    parser.add_argument("job", choices=("send_reminders", "send_outbox"))
    parser.add_argument("--at", required=True, type=datetime.fromisoformat)
    parser.add_argument("--die-after-claiming")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args(argv)

    from chalice.local import LambdaContext

    import app
    from chalicelib.bootstrap import Container, use_container
    from chalicelib.clock import FixedClock
    from chalicelib.settings import get_settings

    deps = Container(get_settings()).override(clock=FixedClock(args.at))
    if args.die_after_claiming:
        deps.override(outbox=DiesAfterClaiming(deps.outbox, args.die_after_claiming))
    use_container(deps)
    deps.catalog.get()  # connected (and the catalog read) before the start, so runs started together race
    if args.ready and args.go:
        args.ready.touch()
        wait_for(args.go)
    context = LambdaContext(args.job, memory_size=512, max_runtime_ms=LAMBDA_TIMEOUT_MS)
    result = app.app.handler_map[args.job](scheduled_event(args.at, deps.settings.region), context)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
