"""The scale bench's company, seeded into in-process moto through the app's own write paths.

50 teams of 10 members (five time zones), each team the only one serving its two services (`plumbing-tNN`, 60 min;
`cleaning-tNN`, 120 min), every day 08:00-20:00 team-local. Team 0, whose routes the bench measures, always
has the same 2,000 bookings (a 100,000-booking company's share per team), so its own calendar, which its
availability, quotes and bookings must read, is the same in every company; the other bookings are spread at
random over the other teams and 92 days (2026-10-10 .. 2027-01-09; the bench's clock is 2026-11-24 12:00Z): a member's booking starts at 08:00, 11:00
or 14:00 team-local, never two on one member's slot, so every seeded booking is one the app would accept
(17:00 stays free for the booking the bench makes). Past bookings are COMPLETED (card PAID, cash collected),
future ones CONFIRMED (card PAID, cash due), all made at least three days before the clock. On top of those, 110
card bookings hold capacity with an open payment: 10 whose hold ran out, 100 still held (the jobs' work).
Twenty promotion rules: ten automatic ones with a usage limit, each scoped to one team's plumbing service, and
ten codes for every service.

Catalog and promotions are written through their repositories. Each booking is priced by the app's pricer and
stored by the service-request repository's own booking transaction, recorded instead of sent
(bench/capture.py) and written in bulk, so the items are the ones the app writes, in whatever layout it uses.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FIRST_DAY, DAYS = date(2026, 10, 10), 92
TEAMS, MEMBERS_PER_TEAM = 50, 10
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London")
SLOT_HOURS = (8, 11, 14)
HELD_DUE, HELD_PENDING = 10, 100
# Team 0 (whose routes are measured) is as busy as one team of a 100,000-booking company, in every company.
MEASURED_TEAM_BOOKINGS, MEASURED_TEAM_SEED = 100_000 // TEAMS, 7
HOLD_MINUTES = 30
LIMITED_RULES, CODED_RULES = 10, 10
BOOKED_BEFORE = timedelta(days=3)  # seeded bookings are older than the reconciliation's 2-day lookback


def team_id(t: int) -> str:
    return f"t{t:02d}"


def service_ids(t: int) -> tuple[str, str]:
    return f"plumbing-{team_id(t)}", f"cleaning-{team_id(t)}"


def member_id(t: int, m: int) -> str:
    return f"{team_id(t)}-m{m}"


def catalog_items():
    from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
    from chalicelib.domain.service_areas import area

    hours = {d: (TimeWindow(time(8), time(20)),) for d in range(7)}
    teams, members, services = [], [], []
    for t in range(TEAMS):
        plumbing, cleaning = service_ids(t)
        teams.append(Team(id=team_id(t), name=f"Team {t}", timezone=ZONES[t % len(ZONES)], weekly_hours=hours,
                          daily_limit=MEMBERS_PER_TEAM * len(SLOT_HOURS) + 10, slot_capacity=MEMBERS_PER_TEAM,
                          service_areas=(area("US", prefixes=("100",)),)))  # bench.scale books from 10001
        members += [TeamMember(id=member_id(t, m), team_id=team_id(t), display_name=f"M{m}",
                               service_ids=(plumbing, cleaning)) for m in range(MEMBERS_PER_TEAM)]
        services += [
            Service(id=plumbing, name="Plumbing", category="plumbing", description="", duration_minutes=60,
                    buffer_minutes=15, slot_step_minutes=30, lead_time_minutes=120, base_price=Money(12000),
                    team_ids=(team_id(t),)),
            Service(id=cleaning, name="Cleaning", category="cleaning", description="", duration_minutes=120,
                    buffer_minutes=30, slot_step_minutes=30, lead_time_minutes=720, base_price=Money(8900),
                    team_ids=(team_id(t),))]
    return teams, members, services


def seed_catalog(deps) -> None:
    teams, members, services = catalog_items()
    for team in teams:
        deps.catalog_repo.put_team(team)
    for member in members:
        deps.catalog_repo.put_member(member)
    for service in services:
        deps.catalog_repo.put_service(service)


def seed_promotions(deps) -> None:
    """Through the admin use case (repository + audit), as an admin would create them."""
    from chalicelib.domain.principal import Principal
    from chalicelib.services import promotions

    admin = Principal("bench-admin", groups=("admin",))
    step = TEAMS // LIMITED_RULES
    for r in range(LIMITED_RULES):
        promotions.create_rule(deps.promotions, deps.audit, admin, {
            "id": f"auto-{r}", "kind": "percent", "value": 500, "serviceIds": [service_ids(r * step)[0]],
            "globalLimit": 1_000_000, "priority": 10 + r})
    for r in range(CODED_RULES):
        promotions.create_rule(deps.promotions, deps.audit, admin, {
            "id": f"code-{r}", "code": f"SAVE{r}", "kind": "fixed", "value": 500, "priority": 50 + r})


@dataclass(frozen=True)
class Slot:
    team: int
    member: int
    day: int
    hour: int


def slots(others: int, rng: random.Random) -> list[Slot]:
    """The measured team's calendar (MEASURED_TEAM_BOOKINGS slots of team 0, the same in every company: its own
    bookings are what its routes return), then `others` distinct member slots drawn from every other team,
    member, day and seeded start hour."""
    per_day = MEMBERS_PER_TEAM * len(SLOT_HOURS)
    total = (TEAMS - 1) * DAYS * per_day
    if others > total:
        raise ValueError(f"at most {total} bookings fit the bench company's other teams")
    measured = random.Random(MEASURED_TEAM_SEED).sample(range(DAYS * per_day), MEASURED_TEAM_BOOKINGS)
    out = [_slot(0, index, per_day) for index in measured]
    for index in rng.sample(range(total), others):
        day, rest = divmod(index, (TEAMS - 1) * per_day)
        team, rest = divmod(rest, per_day)
        out.append(_slot(team + 1, day * per_day + rest, per_day))
    return out


def _slot(team: int, index: int, per_day: int) -> Slot:
    day, rest = divmod(index, per_day)
    member, hour = divmod(rest, len(SLOT_HOURS))
    return Slot(team, member, day, SLOT_HOURS[hour])


class _KnownRules:
    """The pricer's rule source for seeding: the stored rules, with no counter read (the seeded limits are far
    from reached)."""

    def __init__(self, rules) -> None:
        self._rules = list(rules)

    def list_rules(self):
        return self._rules

    def refresh(self):
        return self._rules

    def exhausted_rule_ids(self, rules, user_id=None) -> set[str]:
        return set()

    def shards_with_room(self, global_limits: dict[str, int]) -> dict[str, list[int]]:
        from chalicelib.adapters.dynamodb.promo_repository import usage_shares

        return {rule_id: list(range(len(usage_shares(limit)))) for rule_id, limit in global_limits.items()}


def _states(start: datetime, card: bool):
    from chalicelib.domain.booking import PaymentStatus, Status

    if start < NOW:
        return Status.COMPLETED, PaymentStatus.PAID if card else PaymentStatus.COD_COLLECTED
    return Status.CONFIRMED, PaymentStatus.PAID if card else PaymentStatus.COD_DUE


def _request(deps, pricer, catalog, number: int, slot: Slot, rng: random.Random, held: timedelta | None):
    """One booking of `slot` as the booking use case would store it (same pricer, plan and request fields);
    `held`: an open card payment whose hold ends `held` after the clock."""
    from chalicelib.domain import availability as av
    from chalicelib.domain.booking import (PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status)
    from chalicelib.domain.payment import Payment
    from chalicelib.domain.principal import Principal
    from chalicelib.domain.zones import load_zone
    from chalicelib.services.booking import BookingDraft

    team = catalog.teams[team_id(slot.team)]
    service = catalog.services[service_ids(slot.team)[rng.randrange(2)]]
    local = datetime.combine(FIRST_DAY + timedelta(days=slot.day), time(slot.hour), load_zone(team.timezone))
    start = local.astimezone(UTC)
    card = held is not None or rng.random() < 0.6
    method = PaymentMethod.CARD if card else PaymentMethod.COD
    principal = Principal(f"cust-{rng.randrange(max(1, number // 5))}")
    plan = av.plan_for(service, team, member_id(slot.team, slot.member), start)
    draft = BookingDraft(service.id, start, method)
    made = min(start - timedelta(days=rng.randrange(1, 30)), NOW - BOOKED_BEFORE)
    status, payment_status = _states(start, card)
    payment = Payment(session_id=f"cs_scale_{number}", amount=1, currency="USD", attempt=1) if card else Payment()
    hold = None
    if held is not None:
        status, payment_status, hold = Status.PENDING_PAYMENT, PaymentStatus.UNPAID, NOW + held
        made = hold - timedelta(minutes=HOLD_MINUTES)
    placement = Placement(team_id=team.id, member_id=plan.member_id, start=start,
                          end=start + timedelta(minutes=service.duration_minutes), local_date=plan.local_date,
                          timezone=plan.timezone, cells=plan.cells)
    request = ServiceRequest(
        id=f"sr_scale{number:012d}", user_id=principal.user_id, service_id=service.id, placement=placement,
        status=status, payment_status=payment_status, payment_method=method,
        price=pricer(service.priced_for(team.id), draft, start, plan.timezone, principal), created_at=made,
        updated_at=made, payment=payment, hold_expires_at=hold)
    return request, plan


def seed_bookings(deps, requests: int, seed: int = 7) -> dict:
    """Seeds `requests` bookings (HELD_DUE + HELD_PENDING of them with open payments; see the module docstring).
    Returns {"items_written", "open_sessions": {session id: request}}."""
    import boto3

    from bench.capture import CapturedWrites, recording
    from chalicelib.services import capacity
    from chalicelib.services.booking_pricing import BookingPricer

    rng = random.Random(seed)
    catalog = deps.catalog.get()
    pricer = BookingPricer(_KnownRules(deps.promotions.list_rules()), deps.pricing_policy)
    if requests < MEASURED_TEAM_BOOKINGS:
        raise ValueError(f"a bench company has at least the measured team's {MEASURED_TEAM_BOOKINGS} bookings")
    drawn = slots(requests - MEASURED_TEAM_BOOKINGS, rng)
    future = [i for i, s in enumerate(drawn) if FIRST_DAY + timedelta(days=s.day) > NOW.date() + timedelta(days=2)]
    held_numbers = rng.sample(future, HELD_DUE + HELD_PENDING)
    held = {n: timedelta(minutes=-5 if k < HELD_DUE else 20) for k, n in enumerate(held_numbers)}
    client = boto3.client("dynamodb", region_name=deps.settings.region)
    captured = CapturedWrites(_key_names(client))
    open_sessions = {}
    with recording(captured):
        for number, slot in enumerate(drawn):
            request, plan = _request(deps, pricer, catalog, number, slot, rng, held.get(number))
            deps.requests.create(request, plan, capacity.promotion_uses(deps, request, consume=True))
            if number in held:
                open_sessions[request.payment.session_id] = request
    return {"items_written": captured.write(client), "open_sessions": open_sessions}


def _key_names(client) -> dict[str, tuple[str, ...]]:
    names = {}
    for table in client.list_tables()["TableNames"]:
        schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
        names[table] = tuple(k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"]))
    return names
