"""Payment use cases: Stripe Checkout for CARD bookings, COD collection, webhooks, hold expiry, reconciliation.

One job per module:
  checkout    open or resume a card checkout (after booking, or asked by the customer); cash collected
  webhooks    Stripe events: verify, claim once, apply
  expiry      release holds that ran out (schedule, every 5 minutes)
  reconcile   converge on Stripe's state (nightly), in checkpointed phases
  transition  the conditional write every payment state change goes through

`deps` is the Container (or a test double) exposing: settings, requests, catalog, audit, publisher, clock,
stripe (PaymentGateway), payment_store (event claims, checkpoints, payment reads). The decisions themselves are
pure and live in chalicelib/domain/payment.py.
"""
from chalicelib.domain.payment import amount_due
from chalicelib.services.payments.checkout import (SESSION_MIN_LIFETIME, checkout_after_booking, cod_collected,
                                                   resume_checkout)
from chalicelib.services.payments.expiry import expire_holds
from chalicelib.services.payments.reconcile import RECONCILE_JOB, reconcile_payments
from chalicelib.services.payments.webhooks import HANDLERS, process_event, receive_webhook

__all__ = ["HANDLERS", "RECONCILE_JOB", "SESSION_MIN_LIFETIME", "amount_due", "checkout_after_booking",
           "cod_collected", "expire_holds", "process_event", "receive_webhook", "reconcile_payments",
           "resume_checkout"]
