"""Local-stack load figures: bookings a second and p95 latency of 10 concurrent HTTP clients booking through the
local API, and the moto server's memory once it holds 10,000 bookings.

The whole stack runs as `make run` runs it (devtools/stack.py: moto server, tables and seed, Stripe stub,
websocket gateway, local API) on free loopback ports. A bench service gets a team of 25 crews, and 500 of its
open hourly slots (from the API's availability, about 50 days) are each booked 20 times, so capacity never
limits a booking:
  - 19 bookings per slot (9,500) are written beforehand straight into moto: the request items and the capacity
    items their booking transactions leave (team-day and member-day items), then
    checked through the API's availability; they stand for older bookings, so they have no idempotency record;
  - the 20th booking of every slot (500) is made over HTTP by 10 concurrent clients, each request with its own
    Idempotency-Key, the slots in random order (every day and every month partition is hit).
Then moto holds 10,000 bookings, and its resident memory is read from /proc/<pid>/status. The CPU time the API
and moto processes spent per HTTP booking (from /proc/<pid>/stat) says where the time goes and depends less than
the rate on what else the machine is running (it still varies: per-day reads are cached for a few seconds, so
a slower run re-reads more often); the machine's load average is reported next to it.
Realtime pushes follow from the requests table's stream, as in AWS (devtools/stream_poller.py): the pre-loaded
bookings are stream records too, so the HTTP phase starts once the poller has caught up with them, and the
poller's CPU time per HTTP booking (their pushes, counted until it has caught up again) is reported as well.
"""
from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

SERVICE_ID = "bench-load"
TEAM_ID = "team-bench-load"
CREWS = 25  # members = slot capacity; more than BOOKINGS_PER_SLOT, so no slot is ever full
SLOTS = 500
BOOKINGS_PER_SLOT = 20  # SLOTS x BOOKINGS_PER_SLOT = 10,000 bookings in the end
HTTP_BOOKINGS_PER_SLOT = 1  # the last booking of each slot is made over HTTP, the others beforehand
CLIENTS = 10
PRICE = 5000
TZ = "America/New_York"
AVAILABILITY_DAYS_PER_READ = 31  # the API's maximum range
MAX_AVAILABILITY_READS = 4
REQUEST_TIMEOUT_SECONDS = 30
HTTP_PHASE_LIMIT_SECONDS = 300  # the HTTP phase stops here even if bookings remain (the figures say how many)


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def offered_slots(stack, first: date, last: date) -> list[tuple[datetime, int]]:
    """(start, remaining) of every slot the API offers for the bench service on days [first, last]."""
    import requests

    offered: list[tuple[datetime, int]] = []
    day = first
    while day <= last:
        until = min(last, day + timedelta(days=AVAILABILITY_DAYS_PER_READ - 1))
        response = requests.get(stack.url(f"/services/{SERVICE_ID}/availability"), timeout=REQUEST_TIMEOUT_SECONDS,
                                params={"from": day.isoformat(), "to": until.isoformat(), "tz": TZ})
        response.raise_for_status()
        offered += [(datetime.fromisoformat(slot["start"]), slot["remaining"]) for listed in response.json()["days"]
                    for slot in listed["slots"]]
        day = until + timedelta(days=1)
    return offered


def open_slots(stack, first_day: date) -> list[datetime]:
    """SLOTS bookable slot starts of the bench service from `first_day`, as the API offers them."""
    last_day = first_day + timedelta(days=AVAILABILITY_DAYS_PER_READ * MAX_AVAILABILITY_READS - 1)
    starts = [start for start, remaining in offered_slots(stack, first_day, last_day)
              if remaining >= BOOKINGS_PER_SLOT]
    if len(starts) < SLOTS:
        raise RuntimeError(f"only {len(starts)} open slots for the bench service; {SLOTS} needed")
    return starts[:SLOTS]


def preload(stack, starts: list[datetime], per_slot: int) -> float:
    """Write `per_slot` bookings on every slot straight into the stack's tables, members taken in turn (never
    double-booked): the request items and the capacity items their booking transactions would have left (team-day
    and member-day items, adapters/dynamodb/keys.py). Bulk writes make this a fraction of the time 9,500
    transactions take. Returns the seconds it took."""
    from chalicelib.adapters.dynamodb import keys
    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from chalicelib.adapters.dynamodb.capacity_store import put_whole
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    from chalicelib.bootstrap import Container
    from chalicelib.domain import availability as av
    from chalicelib.domain.booking import PaymentMethod, Placement, ServiceRequest, initial_states
    from chalicelib.settings import settings_from_env

    began = time.perf_counter()
    deps = Container(settings_from_env(stack.env))
    catalog = deps.catalog.get()
    service, team = catalog.services[SERVICE_ID], catalog.teams[TEAM_ID]
    members = sorted(m.id for m in catalog.members_for(SERVICE_ID, TEAM_ID))
    status, payment_status = initial_states(PaymentMethod.COD)
    price = {"currency": "USD", "subtotal": PRICE, "discount": 0, "total": PRICE,
             "lines": [{"kind": "base", "code": SERVICE_ID, "description": service.name, "amount": PRICE}]}
    items: dict[tuple[str, str], dict] = {}
    with ServiceRequestItem.batch_write() as request_items:
        for number, (turn, start) in enumerate((turn, start) for turn in range(per_slot) for start in starts):
            plan = av.plan_for(service, team, members[turn], start)
            booked_at = datetime.now(start.tzinfo) - timedelta(days=3)  # older than the idempotency window
            request = ServiceRequest(
                id=deps.new_id(), user_id=f"bench-user-{number % 300}", service_id=SERVICE_ID,
                placement=Placement(team_id=TEAM_ID, member_id=plan.member_id, start=start,
                                    end=start + timedelta(minutes=service.duration_minutes),
                                    local_date=plan.local_date, timezone=plan.timezone, cells=plan.cells),
                status=status, payment_status=payment_status, payment_method=PaymentMethod.COD, price=price,
                created_at=booked_at, updated_at=booked_at)
            request_items.save(to_item(request, 1))
            for change in keys.changes(request.id, claim=plan):
                if change.has_actions:
                    items[change.key] = keys.applied(change, items.get(change.key))
    put_whole(items)  # one item per team-day and member-day, whatever the number of bookings
    return time.perf_counter() - began


def check_preload(stack, starts: list[datetime], per_slot: int) -> None:
    """The API must see the pre-loaded bookings: every slot offers exactly the crews left."""
    offered = {start: remaining for start, remaining in offered_slots(stack, starts[0].date(), starts[-1].date())}
    wrong = [start for start in starts if offered.get(start) != CREWS - per_slot]
    if wrong:
        raise RuntimeError(f"{len(wrong)} pre-loaded slots do not show {CREWS - per_slot} remaining crews, e.g. "
                           f"{wrong[0].isoformat()}: {offered.get(wrong[0])}")


def stream_caught_up(stack) -> float:
    """Wait until the stream poller (when the stack runs one) has handed every change written so far to the app
    (the pre-loaded bookings are stream records too, pushed as AWS would push them); returns the seconds waited.
    An empty poll that started after this call began has seen every earlier write."""
    import requests

    if "stream-poller" not in stack.components:
        return 0.0
    began = time.perf_counter()
    url = stack.require("stream-poller").url
    target = requests.get(url, timeout=REQUEST_TIMEOUT_SECONDS).json()["emptyPolls"] + 2
    deadline = time.monotonic() + HTTP_PHASE_LIMIT_SECONDS
    while requests.get(url, timeout=REQUEST_TIMEOUT_SECONDS).json()["emptyPolls"] < target:
        if time.monotonic() >= deadline:
            raise RuntimeError(f"the stream poller did not catch up within {HTTP_PHASE_LIMIT_SECONDS}s")
        time.sleep(0.5)
    return time.perf_counter() - began


@dataclass
class HttpRun:
    statuses: list[int]
    latencies_ms: list[float]
    seconds: float
    timeouts: int


def book_over_http(stack, starts: list[datetime], tokens: list[str]) -> HttpRun:
    """CLIENTS threads take slots off a shared list and book each once; bounded by count and by time."""
    import requests

    lock = threading.Lock()
    remaining = list(starts)
    statuses: list[int] = []
    latencies: list[float] = []
    timeouts = 0
    deadline = time.monotonic() + HTTP_PHASE_LIMIT_SECONDS
    url = stack.url("/portal/service-requests")

    def client(number: int) -> None:
        nonlocal timeouts
        authorization = {"Authorization": f"Bearer {tokens[number]}"}
        with requests.Session() as session:
            while time.monotonic() < deadline:
                with lock:
                    if not remaining:
                        return
                    start = remaining.pop()
                began = time.perf_counter()
                try:
                    response = session.post(url, json={"serviceId": SERVICE_ID, "start": start.isoformat(),
                                                       "paymentMethod": "COD", "postalCode": "10001"},
                                            headers={**authorization, "Idempotency-Key": f"load-{uuid.uuid4()}"},
                                            timeout=REQUEST_TIMEOUT_SECONDS)
                except requests.Timeout:
                    with lock:
                        timeouts += 1
                    continue
                elapsed_ms = (time.perf_counter() - began) * 1000
                with lock:
                    statuses.append(response.status_code)
                    latencies.append(elapsed_ms)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return HttpRun(statuses, latencies, time.perf_counter() - began, timeouts)


def figures() -> dict:
    from chalicelib.adapters import dev_tokens
    from devtools.stack import running_stack

    with tempfile.TemporaryDirectory(prefix="bench-local-load-") as log_dir, running_stack(Path(log_dir)) as stack:
        stack.add_service(SERVICE_ID, TEAM_ID, members=CREWS, slot_capacity=CREWS, price=PRICE,
                          daily_limit=CREWS * 10)
        starts = open_slots(stack, date.today() + timedelta(days=1))
        preload_seconds = preload(stack, starts, BOOKINGS_PER_SLOT - HTTP_BOOKINGS_PER_SLOT)
        check_preload(stack, starts, BOOKINGS_PER_SLOT - HTTP_BOOKINGS_PER_SLOT)
        catch_up_seconds = stream_caught_up(stack)
        moto_pid, api_pid = stack.child("moto").pid, stack.child("api").pid
        poller_pid = stack.components["stream-poller"].pid if "stream-poller" in stack.components else None
        rss_before_http = rss_mb(moto_pid)
        tokens = [dev_tokens.issue(stack.settings.dev_token_secret, f"bench-client-{i}") for i in range(CLIENTS)]
        http_starts = starts * HTTP_BOOKINGS_PER_SLOT
        random.Random(7).shuffle(http_starts)
        cpu_before = {pid: cpu_seconds(pid) for pid in (moto_pid, api_pid, poller_pid) if pid}
        run = book_over_http(stack, http_starts, tokens)
        stream_caught_up(stack)  # the pushes of the HTTP bookings are part of their cost
        cpu_ms = {pid: (cpu_seconds(pid) - cpu_before[pid]) * 1000 for pid in cpu_before}
        load_average = os.getloadavg()[0]
        moto_rss = rss_mb(moto_pid)
    created = run.statuses.count(201)
    per_booking = max(created, 1)
    return {
        "local_bookings_per_s_10_clients": round(created / run.seconds, 1),
        "local_booking_p95_ms": round(percentile(run.latencies_ms, 0.95), 1) if run.latencies_ms else None,
        "local_booking_median_ms": round(statistics.median(run.latencies_ms), 1) if run.latencies_ms else None,
        "local_load_http_bookings_created": created,
        "local_load_http_other_answers": len(run.statuses) - created,
        "local_load_http_timeouts": run.timeouts,
        "local_load_api_cpu_ms_per_booking": round(cpu_ms[api_pid] / per_booking, 1),
        "local_load_moto_cpu_ms_per_booking": round(cpu_ms[moto_pid] / per_booking, 1),
        # Realtime pushes, delivered from the requests stream off the request path (None: pushed inline).
        "local_load_stream_poller_cpu_ms_per_booking": round(cpu_ms[poller_pid] / per_booking, 1) if poller_pid
        else None,
        "local_load_stream_catch_up_after_preload_s": round(catch_up_seconds, 1),
        "local_load_machine_load_average_1m": round(load_average, 2),
        "local_load_preloaded_bookings": SLOTS * (BOOKINGS_PER_SLOT - HTTP_BOOKINGS_PER_SLOT),
        "local_load_total_bookings": SLOTS * (BOOKINGS_PER_SLOT - HTTP_BOOKINGS_PER_SLOT) + created,
        "local_load_preload_s": round(preload_seconds, 1),
        "moto_rss_mb_before_http_bookings": rss_before_http,
        "moto_rss_mb_after_10000_bookings": moto_rss,
    }


if __name__ == "__main__":
    import json
    print(json.dumps(figures(), sort_keys=True))
