"""Payment use cases: Stripe Checkout for CARD bookings, COD collection, webhooks, hold expiry, reconciliation.

One job per module:
  checkout    open or resume a card checkout (after booking, or asked by the customer); cash collected
  series_checkout  one Checkout Session for a whole card series (a line per occurrence)
  shared      which occurrences a series session's (or shared PaymentIntent's) events are about
  webhooks    Stripe events: verify, claim once, apply
  expiry      release holds that ran out (schedule, every 5 minutes)
  reconcile   converge on Stripe's state (nightly), in checkpointed phases
  transition  the conditional write every payment state change goes through

Each module names what it reads of `deps` (the Container, or a test double) as a Protocol: TransitionDeps
(requests, promo_usage, catalog, audit, clock, events), and on top of it CheckoutDeps, WebhookDeps, ExpiryDeps
(stripe, payment_store) and ReconcileDeps. A change that ends a hold publishes CapacityReleased; payments never
pushes availability itself. The decisions themselves are pure and live in chalicelib/domain/payment.py.
"""
from chalicelib.domain.payment import amount_due
from chalicelib.services.payments.checkout import (SESSION_MIN_LIFETIME, CheckoutDeps, checkout_after_booking,
                                                   cod_collected)
from chalicelib.services.payments.series_checkout import SeriesCheckoutDeps, checkout_series, resume_checkout
from chalicelib.services.payments.expiry import expire_holds
from chalicelib.services.payments.reconcile import RECONCILE_JOB, reconcile_payments, reconcile_tonight
from chalicelib.services.payments.webhooks import HANDLERS, process_event, receive_webhook

__all__ = ["CheckoutDeps", "HANDLERS", "RECONCILE_JOB", "SESSION_MIN_LIFETIME", "amount_due", "checkout_after_booking", "checkout_series",
           "cod_collected", "expire_holds", "process_event", "receive_webhook", "reconcile_payments", "reconcile_tonight",
           "resume_checkout", "SeriesCheckoutDeps"]
