"""Plain-dict (JSON) forms of catalog objects: how they are stored and how admins send them."""
from __future__ import annotations

from datetime import datetime, time, timezone

from typing import TYPE_CHECKING

from chalicelib.domain.catalog import (AreaPrice, Blackout, Catalog, Money, Service, ServiceOption, Team, TeamMember,
                                       TimeWindow)
from chalicelib.domain.payment import CheckoutError, Payment, ReconciliationNote, RefundRecord
from chalicelib.domain.service_areas import Location, ServiceArea
from chalicelib.domain.terms import assessment_from_doc, assessment_to_doc, terms_from_doc, terms_to_doc

if TYPE_CHECKING:
    from chalicelib.domain.booking import ServiceRequest
    from chalicelib.domain.job import JobRecord

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def iso_utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"datetime without offset: {value}")
    return dt.astimezone(timezone.utc)


def money_from(doc: dict) -> Money:
    return Money(int(doc["amount"]), doc.get("currency", "USD"))


def service_to_doc(s: Service) -> dict:
    return {"id": s.id, "name": s.name, "category": s.category, "description": s.description,
            "durationMinutes": s.duration_minutes, "bufferMinutes": s.buffer_minutes,
            "slotStepMinutes": s.slot_step_minutes, "leadTimeMinutes": s.lead_time_minutes,
            "basePrice": s.base_price.to_dict(), "teamIds": list(s.team_ids), "active": s.active,
            "version": s.version,
            "options": [{"id": o.id, "name": o.name, "price": o.price.to_dict()} for o in s.options],
            "areaPrices": [{"teamId": a.team_id, "basePrice": a.base_price.to_dict(),
                            "options": [{"id": o, "price": m.to_dict()} for o, m in a.option_prices]}
                           for a in s.area_prices],
            "terms": terms_to_doc(s.terms)}


def service_from_doc(d: dict) -> Service:
    return Service(id=d["id"], name=d["name"], category=d["category"], description=d.get("description", ""),
                   duration_minutes=int(d["durationMinutes"]), buffer_minutes=int(d.get("bufferMinutes", 0)),
                   slot_step_minutes=int(d.get("slotStepMinutes", 30)),
                   lead_time_minutes=int(d.get("leadTimeMinutes", 0)), base_price=money_from(d["basePrice"]),
                   team_ids=tuple(d.get("teamIds", ())), active=bool(d.get("active", True)),
                   version=int(d.get("version", 1)),
                   options=tuple(ServiceOption(o["id"], o["name"], money_from(o["price"]))
                                 for o in d.get("options", ())),
                   area_prices=tuple(AreaPrice(a["teamId"], money_from(a["basePrice"]),
                                               tuple((o["id"], money_from(o["price"])) for o in a.get("options", ())))
                                     for a in d.get("areaPrices", ())),
                   terms=terms_from_doc(d.get("terms")))


def hours_to_doc(hours: dict[int, tuple[TimeWindow, ...]]) -> dict:
    return {WEEKDAYS[day]: [[w.start.strftime("%H:%M"), w.end.strftime("%H:%M")] for w in windows]
            for day, windows in sorted(hours.items()) if windows}


def hours_from_doc(doc: dict) -> dict[int, tuple[TimeWindow, ...]]:
    return {WEEKDAYS.index(day): tuple(TimeWindow(time.fromisoformat(a), time.fromisoformat(b))
                                       for a, b in windows)
            for day, windows in doc.items()}


def blackout_to_doc(b: Blackout) -> dict:
    return {"id": b.id, "start": iso_utc(b.start), "end": iso_utc(b.end), "reason": b.reason,
            "teamId": b.team_id}


def blackout_from_doc(d: dict) -> Blackout:
    return Blackout(id=d["id"], start=parse_iso(d["start"]), end=parse_iso(d["end"]),
                    reason=d.get("reason", ""), team_id=d.get("teamId"))


def team_to_doc(t: Team) -> dict:
    return {"id": t.id, "name": t.name, "timezone": t.timezone, "weeklyHours": hours_to_doc(t.weekly_hours),
            "dailyLimit": t.daily_limit, "slotCapacity": t.slot_capacity, "version": t.version, "active": t.active,
            "blackouts": [blackout_to_doc(b) for b in t.blackouts],
            "serviceAreas": [{"country": a.country, "codes": list(a.codes), "prefixes": list(a.prefixes)}
                             for a in t.service_areas]}


def team_from_doc(d: dict) -> Team:
    return Team(id=d["id"], name=d["name"], timezone=d["timezone"],
                weekly_hours=hours_from_doc(d.get("weeklyHours", {})), daily_limit=int(d["dailyLimit"]),
                slot_capacity=int(d["slotCapacity"]), version=int(d.get("version", 1)),
                active=bool(d.get("active", True)),
                blackouts=tuple(blackout_from_doc(b) for b in d.get("blackouts", ())),
                service_areas=tuple(ServiceArea(country=a["country"], codes=tuple(a.get("codes", ())),
                                                prefixes=tuple(a.get("prefixes", ())))
                                    for a in d.get("serviceAreas", ())))


def member_to_doc(m: TeamMember) -> dict:
    return {"id": m.id, "teamId": m.team_id, "displayName": m.display_name, "serviceIds": list(m.service_ids),
            "onCallServiceIds": list(m.on_call_service_ids), "email": m.email, "phone": m.phone,
            "internalNotes": m.internal_notes, "bio": m.bio, "rating": m.rating, "active": m.active,
            "version": m.version}


def member_from_doc(d: dict) -> TeamMember:
    return TeamMember(id=d["id"], team_id=d["teamId"], display_name=d["displayName"],
                      service_ids=tuple(d.get("serviceIds", ())),
                      on_call_service_ids=tuple(d.get("onCallServiceIds", ())), email=d.get("email", ""),
                      phone=d.get("phone", ""), internal_notes=d.get("internalNotes", ""), bio=d.get("bio", ""),
                      rating=d.get("rating"), active=bool(d.get("active", True)), version=int(d.get("version", 1)))


def catalog_from_docs(services: list[dict], teams: list[dict], members: list[dict],
                      blackouts: list[dict]) -> Catalog:
    return Catalog(services={d["id"]: service_from_doc(d) for d in services},
                   teams={d["id"]: team_from_doc(d) for d in teams},
                   members={d["id"]: member_from_doc(d) for d in members},
                   global_blackouts=tuple(blackout_from_doc(d) for d in blackouts))


# --- service requests ------------------------------------------------------------------------------------
def request_to_doc(r: "ServiceRequest") -> dict:
    p = r.placement
    return {"id": r.id, "userId": r.user_id, "serviceId": r.service_id, "teamId": p.team_id,
            "memberId": p.member_id, "start": iso_utc(p.start), "end": iso_utc(p.end), "timezone": p.timezone,
            "localDate": p.local_date, "cells": list(p.cells), "status": r.status.value,
            "paymentStatus": r.payment_status.value, "paymentMethod": r.payment_method.value, "price": r.price,
            "address": r.address, "notes": r.notes, "customerEmail": r.customer_email, "sequence": r.sequence,
            "idempotencyKey": r.idempotency_key, "seriesId": r.series_id, "priority": r.priority,
            "options": list(r.options), "promoCodes": list(r.promo_codes),
            "holdExpiresAt": iso_utc(r.hold_expires_at) if r.hold_expires_at else None,
            "payment": payment_to_doc(r.payment), "remindersSent": list(r.reminders_sent),
            "location": r.location.to_dict() if r.location else None, "createdBy": r.created_by,
            "job": job_to_doc(r.job) if r.job else None, "language": r.language,
            "cancellationTerms": terms_to_doc(r.terms) if r.terms else None,
            "cancellation": assessment_to_doc(r.cancellation) if r.cancellation else None,
            "createdAt": iso_utc(r.created_at), "updatedAt": iso_utc(r.updated_at)}


def request_from_doc(d: dict) -> "ServiceRequest":
    from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status

    placement = Placement(team_id=d["teamId"], member_id=d["memberId"], start=parse_iso(d["start"]),
                          end=parse_iso(d["end"]), local_date=d["localDate"], timezone=d["timezone"],
                          cells=tuple(d.get("cells", ())))
    return ServiceRequest(
        id=d["id"], user_id=d["userId"], service_id=d["serviceId"], placement=placement,
        status=Status(d["status"]), payment_status=PaymentStatus(d["paymentStatus"]),
        payment_method=PaymentMethod(d["paymentMethod"]), price=d.get("price") or {},
        created_at=parse_iso(d["createdAt"]), updated_at=parse_iso(d["updatedAt"]), address=d.get("address", ""),
        notes=d.get("notes", ""), customer_email=d.get("customerEmail"), sequence=int(d.get("sequence", 0)),
        idempotency_key=d.get("idempotencyKey"), series_id=d.get("seriesId"), priority=d.get("priority", "NORMAL"),
        options=tuple(d.get("options", ())), promo_codes=tuple(d.get("promoCodes", ())),
        hold_expires_at=parse_iso(d["holdExpiresAt"]) if d.get("holdExpiresAt") else None,
        payment=payment_from_doc(d.get("payment")), reminders_sent=tuple(d.get("remindersSent", ())),
        location=Location(d["location"]["postalCode"], d["location"]["country"]) if d.get("location") else None,
        created_by=d.get("createdBy"), job=job_from_doc(d["job"]) if d.get("job") else None,
        terms=terms_from_doc(d["cancellationTerms"]) if d.get("cancellationTerms") else None,
        cancellation=assessment_from_doc(d["cancellation"]) if d.get("cancellation") else None,
        revision=int(d.get("revision", 0)), language=d.get("language") or "en",
    )


def job_to_doc(j: "JobRecord") -> dict:
    return {"startedAt": _iso_or_none(j.started_at), "endedAt": _iso_or_none(j.ended_at), "notes": j.notes,
            "unpaidReason": j.unpaid_reason, "noShowAt": _iso_or_none(j.no_show_at)}


def job_from_doc(d: dict) -> "JobRecord":
    from chalicelib.domain.job import JobRecord

    return JobRecord(started_at=_time_or_none(d.get("startedAt")), ended_at=_time_or_none(d.get("endedAt")),
                     notes=d.get("notes") or "", unpaid_reason=d.get("unpaidReason"),
                     no_show_at=_time_or_none(d.get("noShowAt")))


# --- a request's payment ---------------------------------------------------------------------------------
# Keys of unset (None) fields are left out, so a stored null and a missing key both read as "not set"; keys this
# code does not know are kept as they are.
PAYMENT_KEYS = ("sessionId", "checkoutUrl", "amount", "currency", "attempt", "sessionCreatedAt", "awaitingSettlement",
                "paidAt", "paidSessionId", "paymentIntentId", "lastEventId", "amountRefunded", "refundedAt",
                "collectedAt", "collectedBy", "error", "reconciliationNotes", "chargeId", "refunds", "refundAttempts",
                "sessionTotal")
NOTE_KEYS = ("kind", "sessionId", "at",  # every note has these; the rest of a note is its kind's details
             "resolvedAt", "resolvedBy", "resolution")  # set once an admin resolved it (absent: open)


def payment_to_doc(p: Payment) -> dict:
    doc = {"sessionId": p.session_id, "checkoutUrl": p.checkout_url, "amount": p.amount, "currency": p.currency,
           "attempt": p.attempt, "sessionCreatedAt": _iso_or_none(p.session_created_at),
           "awaitingSettlement": p.awaiting_settlement, "paidAt": _iso_or_none(p.paid_at),
           "paidSessionId": p.paid_session_id, "paymentIntentId": p.payment_intent_id,
           "lastEventId": p.last_event_id, "amountRefunded": p.amount_refunded,
           "refundedAt": _iso_or_none(p.refunded_at), "collectedAt": _iso_or_none(p.collected_at),
           "collectedBy": p.collected_by, "error": _checkout_error_to_doc(p.error) if p.error else None,
           "reconciliationNotes": [note_to_doc(n) for n in p.reconciliation_notes] or None,
           "chargeId": p.charge_id, "refundAttempts": p.refund_attempts, "sessionTotal": p.session_total,
           "refunds": [{"id": r.id, "amount": r.amount, "status": r.status, "reason": r.reason, "attempt": r.attempt}
                       for r in p.refunds] or None}
    return {**{k: v for k, v in doc.items() if v is not None}, **p.extra}


def payment_from_doc(d: dict | None) -> Payment:
    """Reads every stored shape: missing keys are unset, unknown keys go to `extra`."""
    d = d or {}
    return Payment(
        session_id=d.get("sessionId"), checkout_url=d.get("checkoutUrl"), amount=d.get("amount"),
        currency=d.get("currency"), attempt=d.get("attempt"),
        session_created_at=_time_or_none(d.get("sessionCreatedAt")), awaiting_settlement=d.get("awaitingSettlement"),
        paid_at=_time_or_none(d.get("paidAt")), paid_session_id=d.get("paidSessionId"),
        payment_intent_id=d.get("paymentIntentId"), last_event_id=d.get("lastEventId"),
        amount_refunded=d.get("amountRefunded"), refunded_at=_time_or_none(d.get("refundedAt")),
        collected_at=_time_or_none(d.get("collectedAt")), collected_by=d.get("collectedBy"),
        error=_checkout_error_from_doc(d["error"]) if d.get("error") else None,
        reconciliation_notes=tuple(_note_from_doc(n) for n in d.get("reconciliationNotes") or ()),
        charge_id=d.get("chargeId"), refund_attempts=d.get("refundAttempts"), session_total=d.get("sessionTotal"),
        refunds=tuple(RefundRecord(r["id"], int(r["amount"]), r["status"], r.get("reason"), r.get("attempt"))
                      for r in d.get("refunds") or ()),
        extra={k: v for k, v in d.items() if k not in PAYMENT_KEYS})


def _iso_or_none(dt: datetime | None) -> str | None:
    return iso_utc(dt) if dt is not None else None


def _time_or_none(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _checkout_error_to_doc(e: CheckoutError) -> dict:
    return {"code": e.code, "message": e.message, "at": _iso_or_none(e.at), "attempt": e.attempt}


def _checkout_error_from_doc(d: dict) -> CheckoutError:
    return CheckoutError(code=d.get("code", ""), message=d.get("message", ""), at=_time_or_none(d.get("at")),
                         attempt=d.get("attempt"))


def note_to_doc(n: ReconciliationNote) -> dict:
    resolved = {"resolvedAt": _iso_or_none(n.resolved_at), "resolvedBy": n.resolved_by,
                "resolution": n.resolution} if not n.is_open else {}
    return {"kind": n.kind, "sessionId": n.session_id, "at": _iso_or_none(n.at), **n.details, **resolved}


def _note_from_doc(d: dict) -> ReconciliationNote:
    return ReconciliationNote(kind=d.get("kind", ""), session_id=d.get("sessionId"), at=_time_or_none(d.get("at")),
                              details={k: v for k, v in d.items() if k not in NOTE_KEYS},
                              resolved_at=_time_or_none(d.get("resolvedAt")), resolved_by=d.get("resolvedBy"),
                              resolution=d.get("resolution"))
