"""The revenue ledger: money that moved, per UTC day and currency, derived from a request's change (old -> new),
and the report read back from it. Pure.

A request write adds its flows to the day's ledger in the same transaction (adapters/dynamodb/revenue_ledger.py),
so the report reads a few counters per day instead of the requests. Flows, each on the UTC day it happened:
- booked: the price of a new booking (creation day);
- codDue: the price of a new booking paid in cash (creation day), or of one that became COD_DUE later;
- paid: the amount of a card payment on entering PAID (paidAt's day);
- refunded: what the refunded amount grew by (refundedAt's day; partial refunds add up);
- codCollected: the price of a cash booking on entering COD_COLLECTED (collectedAt's day).
Nothing is taken back: a cancelled booking stays booked on its day, its refund is a flow of the refund's day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from chalicelib.domain.booking import PaymentStatus, ServiceRequest
from chalicelib.domain.payment import Payment

KINDS = ("booked", "paid", "refunded", "codDue", "codCollected")
MAX_REPORT_DAYS = 92
UTC = timezone.utc


@dataclass(frozen=True)
class Flow:
    day: str  # UTC date
    currency: str
    kind: str  # one of KINDS
    amount: int  # minor units


def _day(instant: datetime | None, fallback: datetime) -> str:
    return (instant or fallback).astimezone(UTC).date().isoformat()


def _price(request: ServiceRequest) -> tuple[int, str]:
    price = request.price or {}
    return int(price.get("total", 0)), str(price.get("currency", "USD")).upper()


def _entered(old: ServiceRequest | None, new: ServiceRequest, status: PaymentStatus) -> bool:
    return new.payment_status is status and (old is None or old.payment_status is not status)


def _refunded(payment: Payment) -> int:
    """What came back of this request's payment: the charge's report, or for a series' shared charge (which sums
    every occurrence's refunds) the refunds confirmed for this occurrence."""
    if payment.shared:
        return sum(r.amount for r in payment.refunds if r.status == "succeeded")
    return payment.amount_refunded or 0


def flows(old: ServiceRequest | None, new: ServiceRequest) -> list[Flow]:
    """What the change from `old` (None: a new booking) to `new` adds to the ledger (amounts > 0 only)."""
    total, currency = _price(new)
    pay = new.payment
    at = new.updated_at
    out = []
    if old is None:
        out.append(Flow(_day(new.created_at, at), currency, "booked", total))
    if _entered(old, new, PaymentStatus.COD_DUE):
        out.append(Flow(_day(new.created_at if old is None else None, at), currency, "codDue", total))
    if _entered(old, new, PaymentStatus.PAID):
        out.append(Flow(_day(pay.paid_at, at), (pay.currency or currency).upper(), "paid",
                        pay.amount if pay.amount is not None else total))
    refunded = _refunded(pay) - (_refunded(old.payment) if old is not None else 0)
    if refunded > 0:
        out.append(Flow(_day(pay.refunded_at, at), (pay.currency or currency).upper(), "refunded", refunded))
    if _entered(old, new, PaymentStatus.COD_COLLECTED):
        out.append(Flow(_day(pay.collected_at, at), currency, "codCollected", total))
    return [f for f in out if f.amount > 0]


def report(first: date, last: date, currency: str | None, ledger: dict[tuple[str, str], dict[str, int]]) -> dict:
    """One row per UTC day and currency in [first, last] (`currency`: that one only, every day listed even when
    empty; otherwise the currencies with any flow). `ledger`: (day, currency) -> kind -> amount."""
    currencies = [currency.upper()] if currency else sorted({c for _, c in ledger})
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    rows = [{"date": day, "currency": cur, **{k: int(ledger.get((day, cur), {}).get(k, 0)) for k in KINDS}}
            for day in days for cur in currencies]
    totals = [{"currency": cur, **{k: sum(r[k] for r in rows if r["currency"] == cur) for k in KINDS}}
              for cur in currencies]
    return {"from": first.isoformat(), "to": last.isoformat(), "days": rows, "totals": totals}
