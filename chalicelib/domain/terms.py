"""Cancellation and reschedule terms of a service, and what they mean for one booking at one instant.

Free until `free_until_hours` before the start; inside that window a late fee (a fixed amount or a percentage
of what was paid) or, with `late_policy="not_allowed"`, no change at all. `no_show_fee` is what a customer who
is not there owes (shown with the terms; charging it is an admin's decision). Fees never exceed the price.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

LATE_POLICIES = ("fixed", "percent", "not_allowed")


@dataclass(frozen=True)
class CancellationTerms:
    free_until_hours: int = 24
    late_policy: str = "percent"  # one of LATE_POLICIES
    late_fee: int = 50  # minor units when "fixed", whole percent when "percent"; unused when "not_allowed"
    no_show_fee: int = 0  # minor units

    def __post_init__(self) -> None:
        if self.late_policy not in LATE_POLICIES:
            raise ValueError(f"late_policy must be one of {LATE_POLICIES}")
        if self.free_until_hours < 0 or self.late_fee < 0 or self.no_show_fee < 0:
            raise ValueError("terms must not be negative")
        if self.late_policy == "percent" and self.late_fee > 100:
            raise ValueError("a percent late fee is at most 100")


DEFAULT_TERMS = CancellationTerms()


@dataclass(frozen=True)
class Assessment:
    """What the terms say about cancelling or rescheduling now: allowed at all, inside the late window, the fee
    kept and the refund owed (both minor units of `currency`; the refund is 0 when nothing was paid)."""
    allowed: bool
    late: bool
    fee: int
    refund: int
    currency: str
    free_until: datetime


def assess(terms: CancellationTerms, start: datetime, now: datetime, paid: int, currency: str) -> Assessment:
    """`paid`: what the customer paid by card and was not refunded yet (0 for cash or unpaid bookings)."""
    free_until = start - timedelta(hours=terms.free_until_hours)
    if now < free_until:
        return Assessment(True, False, 0, paid, currency, free_until)
    if terms.late_policy == "not_allowed":
        return Assessment(False, True, 0, 0, currency, free_until)
    if terms.late_policy == "fixed":
        fee = min(terms.late_fee, paid)
    else:
        fee = paid * terms.late_fee // 100
    return Assessment(True, True, fee, paid - fee, currency, free_until)


def assessment_to_doc(a: Assessment) -> dict:
    return {"allowed": a.allowed, "late": a.late, "fee": a.fee, "refund": a.refund, "currency": a.currency,
            "freeUntil": a.free_until.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}


def assessment_from_doc(d: dict) -> Assessment:
    return Assessment(bool(d["allowed"]), bool(d["late"]), int(d["fee"]), int(d["refund"]), str(d["currency"]),
                      datetime.fromisoformat(d["freeUntil"].replace("Z", "+00:00")))


def terms_to_doc(t: CancellationTerms) -> dict:
    return {"freeUntilHours": t.free_until_hours, "latePolicy": t.late_policy, "lateFee": t.late_fee,
            "noShowFee": t.no_show_fee}


def terms_from_doc(d: dict | None) -> CancellationTerms:
    """A stored service without terms (written before they existed) has the defaults."""
    if not d:
        return DEFAULT_TERMS
    return CancellationTerms(free_until_hours=int(d.get("freeUntilHours", DEFAULT_TERMS.free_until_hours)),
                             late_policy=str(d.get("latePolicy", DEFAULT_TERMS.late_policy)),
                             late_fee=int(d.get("lateFee", DEFAULT_TERMS.late_fee)),
                             no_show_fee=int(d.get("noShowFee", DEFAULT_TERMS.no_show_fee)))
