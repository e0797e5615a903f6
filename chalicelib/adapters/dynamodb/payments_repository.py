"""Payment bookkeeping in DynamoDB: webhook event claims (dedupe), job checkpoints, and the payment-specific
reads of service requests (open payments, holds due and recently changed paid requests through sparse GSIs,
lookup by payment reference).

Event claims live in the ops table at pk=STRIPE_EVENT#<event id>, sk=EVENT with a 30-day TTL (Stripe resends
an event for up to 3 days and keeps it listable for 30). A claim is taken with a conditional put; a claim left
`processing` by a crashed invocation can be taken over after CLAIM_LEASE_SECONDS, so a lost Lambda never
swallows an event.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamodb.booking_repository import from_item
from chalicelib.adapters.dynamodb.errors import response_code, translated
from chalicelib.adapters.dynamodb.job_keys import HOLD_PARTITION
from chalicelib.adapters.dynamodb.models import OpsItem, ServiceRequestItem
from chalicelib.clock import Clock, epoch_seconds, system_clock
from chalicelib.domain import codec
from chalicelib.domain.booking import OPEN_PAYMENT, ServiceRequest

EVENT_TTL_SECONDS = 30 * 24 * 3600
CLAIM_LEASE_SECONDS = 120  # longer than the webhook Lambda's timeout
CHECKPOINT_TTL_SECONDS = 2 * 24 * 3600
UTC = timezone.utc


class DynamoPaymentStore:
    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock

    # --- webhook event claims ----------------------------------------------------------------------------
    def claim_event(self, event_id: str, event_type: str) -> bool:
        """True if this invocation owns the event now; False if it was processed (or is being processed)."""
        now = epoch_seconds(self._clock)
        item = OpsItem(f"STRIPE_EVENT#{event_id}", "EVENT", doc={"type": event_type}, state="processing",
                       claimedAt=now, expiresAt=_epoch_dt(now + EVENT_TTL_SECONDS))
        # Free, or a processing claim whose holder must have died (no Lambda runs longer than the lease).
        stale = (OpsItem.state == "processing") & (OpsItem.claimedAt < now - CLAIM_LEASE_SECONDS)
        with translated():
            try:
                item.save(condition=OpsItem.pk.does_not_exist() | stale)
                return True
            except PutError as exc:
                if response_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise

    def finish_event(self, event_id: str, outcome: str) -> None:
        now = epoch_seconds(self._clock)
        with translated():
            OpsItem(f"STRIPE_EVENT#{event_id}", "EVENT", doc={"outcome": outcome, "doneAt": now}, state="done",
                    claimedAt=now, expiresAt=_epoch_dt(now + EVENT_TTL_SECONDS)).save()

    def release_event(self, event_id: str) -> None:
        """Processing failed: let Stripe's retry (or reconciliation's replay) take it again."""
        with translated():
            OpsItem(f"STRIPE_EVENT#{event_id}", "EVENT").delete()

    def event_state(self, event_id: str) -> str | None:
        with translated():
            try:
                return OpsItem.get(f"STRIPE_EVENT#{event_id}", "EVENT", consistent_read=True).state
            except OpsItem.DoesNotExist:
                return None

    # --- job checkpoints ---------------------------------------------------------------------------------
    def load_checkpoint(self, job: str) -> dict | None:
        with translated():
            try:
                return OpsItem.get(f"JOB#{job}", "CHECKPOINT", consistent_read=True).doc
            except OpsItem.DoesNotExist:
                return None

    def save_checkpoint(self, job: str, doc: dict) -> None:
        with translated():
            OpsItem(f"JOB#{job}", "CHECKPOINT", doc=doc,
                    expiresAt=_epoch_dt(epoch_seconds(self._clock) + CHECKPOINT_TTL_SECONDS)).save()

    def clear_checkpoint(self, job: str) -> None:
        with translated():
            OpsItem(f"JOB#{job}", "CHECKPOINT").delete()

    # --- service request reads for payments ----------------------------------------------------------------
    def open_payments(self) -> Iterator[ServiceRequest]:
        """Requests whose payment is not final (UNPAID, PENDING), through the sparse `open_payments` GSI:
        the cost follows the pending work, not the table size."""
        with translated():
            for state in sorted(s.value for s in OPEN_PAYMENT):
                for item in ServiceRequestItem.open_payments.query(state):
                    yield from_item(item)

    def due_holds(self, now: datetime) -> Iterator[ServiceRequest]:
        """Requests hold expiry must act on by `now`, through the sparse `holds` GSI (key condition
        `holdExpiresAt <= now`): the cost follows the holds due, not the open payments."""
        with translated():
            for item in ServiceRequestItem.holds.query(
                    HOLD_PARTITION, ServiceRequestItem.holdExpiresAt <= f"{codec.iso_utc(now)}~"):
                yield from_item(item)

    def recently_paid(self, updated_since: datetime, starting_from: datetime) -> Iterator[ServiceRequest]:
        """PAID requests that changed since `updated_since` and whose job starts at or after `starting_from`:
        one Query per UTC day of the sparse `paid_by_update` GSI with a key range on the change time, so only
        the paid requests changed in that window are read (the start filter drops the ones already done)."""
        day, last = updated_since.astimezone(UTC).date(), self._clock().astimezone(UTC).date()
        with translated():
            while day <= last:
                yield from (from_item(item) for item in ServiceRequestItem.paid_by_update.query(
                    day.isoformat(), ServiceRequestItem.updatedAt >= codec.iso_utc(updated_since),
                    filter_condition=ServiceRequestItem.startKey >= codec.iso_utc(starting_from)))
                day += timedelta(days=1)

    def request_id_by_payment_ref(self, ref: str) -> str | None:
        with translated():
            for item in ServiceRequestItem.by_payment_ref.query(ref, limit=1):
                return item.id
        return None

    # --- events parked until their PaymentIntent is known -----------------------------------------------------
    def park_event(self, payment_intent: str, event_id: str, event_type: str, obj: dict) -> None:
        now = epoch_seconds(self._clock)
        with translated():
            OpsItem(f"PARKED#{payment_intent}", f"EVENT#{now:012d}#{event_id}",
                    doc={"eventId": event_id, "type": event_type, "object": obj},
                    expiresAt=_epoch_dt(now + EVENT_TTL_SECONDS)).save()

    def parked_events(self, payment_intent: str) -> list[tuple[str, str, dict]]:
        with translated():
            return [(item.doc["eventId"], item.doc["type"], item.doc["object"])
                    for item in OpsItem.query(f"PARKED#{payment_intent}", consistent_read=True)]

    def drop_parked(self, payment_intent: str, event_id: str) -> None:
        with translated():
            for item in OpsItem.query(f"PARKED#{payment_intent}", consistent_read=True):
                if item.doc.get("eventId") == event_id:
                    item.delete()


def _epoch_dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
