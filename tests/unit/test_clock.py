"""One clock: nothing deployed reads the time except chalicelib/clock.py, and the injected clock reaches every
adapter that stamps time (so a test that fixes it controls every timestamp the app writes)."""
from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from chalicelib.clock import FixedClock, epoch_seconds

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
CLOCK_MODULE = ROOT / "chalicelib" / "clock.py"
# (object, attribute) calls that read the wall clock or the process clock.
TIME_READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
              ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "perf_counter"),
              ("time", "localtime"), ("time", "gmtime")}


def _time_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if (name, node.func.attr) in TIME_READS:
                found.append(f"{path}:{node.lineno} {name}.{node.func.attr}()")
    return found


def test_no_module_but_the_clock_reads_the_time():
    reads = [hit for path in DEPLOYED if path != CLOCK_MODULE for hit in _time_reads(path)]
    assert reads == []


def test_the_scan_finds_a_time_read(tmp_path):
    """The check above can fail: a planted read is found."""
    planted = tmp_path / "planted.py"
    planted.write_text("import time\nfrom datetime import datetime\nx = datetime.now()\ny = time.time()\n")
    assert len(_time_reads(planted)) == 2


def test_fixed_clock_is_aware_utc_and_advances():
    clock = FixedClock(datetime(2030, 3, 10, 2, 30, tzinfo=timezone(timedelta(hours=-5))))
    assert clock() == datetime(2030, 3, 10, 7, 30, tzinfo=timezone.utc)
    clock.advance(minutes=45)
    assert clock().isoformat() == "2030-03-10T08:15:00+00:00"
    assert epoch_seconds(clock) == int(clock().timestamp())
    with pytest.raises(ValueError):
        FixedClock(datetime(2030, 1, 1))
    ticking = FixedClock(datetime(2030, 1, 1, tzinfo=timezone.utc), tick=timedelta(milliseconds=1))
    assert ticking() < ticking()


def test_container_clock_reaches_the_adapters_that_stamp_time(settings):
    from chalicelib.bootstrap import Container

    at = datetime(2031, 7, 1, 12, tzinfo=timezone.utc)
    deps = Container(settings).override(clock=FixedClock(at), dynamodb_ready=True)
    assert deps.audit._now() == at
    assert deps.payment_store._clock() == at
    assert deps.stripe._clock() == at
    deps.clock.advance(hours=1)  # late-bound: an override after construction is seen too
    assert deps.audit._now() == at + timedelta(hours=1)
