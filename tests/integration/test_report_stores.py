"""Contract of the report reads, against the fakes and DynamoDB (moto) alike: the revenue ledger the request writes
keep (every money flow once, on its day; nothing for a write that fails or moves no money) and the capacity
items the utilisation report reads (one team, the dates asked)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from chalicelib.domain import availability as av
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.catalog import Money, Service, Team, TimeWindow
from chalicelib.services.ports import StaleRevision
from tests.fakes import FakeCapacityReport, FakeRevenueLedger, FakeServiceRequestRepository

UTC = timezone.utc
DAY0 = datetime(2026, 11, 24, 12, tzinfo=UTC)
SERVICE = Service(id="svc", name="S", category="c", description="", duration_minutes=60, buffer_minutes=0,
                  slot_step_minutes=60, lead_time_minutes=0, base_price=Money(100), team_ids=("t1", "t2"))
TEAMS = {t: Team(id=t, name=t, timezone="UTC", weekly_hours={d: (TimeWindow(time(8), time(18)),) for d in range(7)},
                 daily_limit=10, slot_capacity=3) for t in ("t1", "t2")}


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request, settings):
    """(ServiceRequestRepository, RevenueLedger, CapacityReport) over the same items."""
    if request.param == "fake":
        repo = FakeServiceRequestRepository()
        return repo, FakeRevenueLedger(repo), FakeCapacityReport(repo)
    request.getfixturevalue("tables")
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
    from chalicelib.adapters.dynamodb.capacity_store import ReportReader
    from chalicelib.adapters.dynamodb.revenue_ledger import RevenueLedger
    return DynamoServiceRequestRepository(settings.dynamodb_endpoint, settings.region), RevenueLedger(), ReportReader()


def booking(number: int, method: PaymentMethod, start: datetime, team: str = "t1", member: str = "m1",
            currency: str = "USD"):
    plan = av.plan_for(SERVICE, TEAMS[team], member, start)
    placement = Placement(team_id=team, member_id=member, start=start, end=start + timedelta(hours=1),
                          local_date=plan.local_date, timezone="UTC", cells=plan.cells)
    status, payment = ((Status.CONFIRMED, PaymentStatus.COD_DUE) if method is PaymentMethod.COD
                       else (Status.PENDING_PAYMENT, PaymentStatus.UNPAID))
    request = ServiceRequest(id=f"sr_{number}", user_id="user-a", service_id="svc", placement=placement,
                             status=status, payment_status=payment, payment_method=method,
                             price={"currency": currency, "lines": [], "subtotal": 10000, "discount": 0,
                                    "total": 10000}, created_at=DAY0, updated_at=DAY0)
    return request, plan


def pay(request: ServiceRequest, days: int, status: PaymentStatus, **payment) -> ServiceRequest:
    at = DAY0 + timedelta(days=days)
    return request.with_changes(payment_status=status, updated_at=at,
                                payment=request.payment.with_changes(**{k: (at if v == "now" else v)
                                                                         for k, v in payment.items()}))


def test_the_ledger_counts_each_money_flow_once_on_its_day(stores):
    repo, ledger, _ = stores
    card, plan = booking(1, PaymentMethod.CARD, datetime(2026, 12, 1, 9, tzinfo=UTC))
    card = repo.create(card, plan)
    cash, cash_plan = booking(2, PaymentMethod.COD, datetime(2026, 12, 1, 10, tzinfo=UTC))
    cash = repo.create(cash, cash_plan)
    euro, euro_plan = booking(3, PaymentMethod.COD, datetime(2026, 12, 1, 11, tzinfo=UTC), currency="EUR")
    repo.create(euro, euro_plan)
    paid = repo.save(card, pay(card, 1, PaymentStatus.PAID, paid_at="now", amount=10000, currency="USD"))
    with pytest.raises(StaleRevision):  # a lost race moves no money
        repo.save(card, pay(card, 1, PaymentStatus.PAID, paid_at="now", amount=10000, currency="USD"))
    reminded = repo.save(paid, paid.with_changes(reminders_sent=("24h",)))  # no money: no ledger write
    part = repo.save(reminded, pay(reminded, 2, PaymentStatus.PAID, amount_refunded=3000, refunded_at="now"))
    repo.save(part, pay(part, 3, PaymentStatus.REFUNDED, amount_refunded=10000, refunded_at="now"))
    repo.save(cash, pay(cash, 4, PaymentStatus.COD_COLLECTED, collected_at="now", collected_by="boss"))

    rows = ledger.days(date(2026, 11, 20), date(2026, 12, 5))
    zero = dict.fromkeys(("booked", "paid", "refunded", "codDue", "codCollected"), 0)
    assert rows == {
        ("2026-11-24", "USD"): {**zero, "booked": 20000, "codDue": 10000},
        ("2026-11-24", "EUR"): {**zero, "booked": 10000, "codDue": 10000},
        ("2026-11-25", "USD"): {**zero, "paid": 10000},
        ("2026-11-26", "USD"): {**zero, "refunded": 3000},
        ("2026-11-27", "USD"): {**zero, "refunded": 7000},
        ("2026-11-28", "USD"): {**zero, "codCollected": 10000},
    }
    assert ledger.days(date(2026, 11, 25), date(2026, 11, 25)) == {("2026-11-25", "USD"): {**zero, "paid": 10000}}


def test_the_capacity_report_reads_one_team_and_the_dates_asked(stores):
    repo, _, report = stores
    for n, (team, member, start) in enumerate([("t1", "m1", datetime(2026, 11, 30, 9, tzinfo=UTC)),
                                              ("t1", "m1", datetime(2026, 12, 1, 9, tzinfo=UTC)),
                                              ("t1", "m2", datetime(2026, 12, 1, 9, tzinfo=UTC)),
                                              ("t2", "x1", datetime(2026, 12, 1, 9, tzinfo=UTC)),
                                              ("t1", "m1", datetime(2026, 12, 2, 9, tzinfo=UTC))]):
        request, plan = booking(n, PaymentMethod.COD, start, team, member)
        repo.create(request, plan)
    counters = report.team_counters("t1", date(2026, 11, 30), date(2026, 12, 1))  # across a month boundary
    assert {d: c.count for d, c in counters.days.items()} == {"2026-11-30": 1, "2026-12-01": 2}
    assert counters.days["2026-12-01"].slots == {"2026-12-01T09:00Z": 2, "2026-12-01T09:15Z": 2,
                                                 "2026-12-01T09:30Z": 2, "2026-12-01T09:45Z": 2}
    assert counters.member_cells == {("2026-11-30", "m1"): 4, ("2026-12-01", "m1"): 4, ("2026-12-01", "m2"): 4}
