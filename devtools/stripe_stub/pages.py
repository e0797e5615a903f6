"""The hosted checkout page's HTML (`GET /pay/{session_id}`): the choice of outcome, then the result."""
from __future__ import annotations

import html
import time

# (outcome, button label), in the order the page shows them
_BUTTONS = (("paid", "Pay"), ("async_succeeded", "Pay later (succeeds)"), ("async_failed", "Pay later (fails)"),
            ("async_pending", "Pay later (pending)"), ("cancel", "Cancel"))


def _money(amount: int | None, currency: str | None) -> str:
    return f"{(amount or 0) / 100:.2f} {(currency or '').upper()}"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:34em;margin:3em auto}button{margin:.3em;padding:.5em 1em}"
            "</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}<p><small>Local Stripe stub - no real money moves."
            "</small></p></body></html>")


def not_found_page() -> str:
    return _page("Checkout not found", "<p>No such Checkout Session.</p>")


def unavailable_page(reason: str) -> str:
    return _page("Checkout unavailable", f"<p>{html.escape(reason)}</p>")


def checkout_page(session: dict) -> str:
    """The outcome buttons of an open session (a GET form: each button reloads the page with ?outcome=)."""
    if session["status"] != "open":
        return unavailable_page(f"This Checkout Session is {session['status']}.")
    buttons = "".join(f"<button name='outcome' value='{value}'>{label}</button>" for value, label in _BUTTONS)
    return _page("Checkout", (
        f"<p>Amount: <strong>{_money(session['amount_total'], session['currency'])}</strong></p>"
        f"<p>Reference: {html.escape(session['client_reference_id'] or '-')}</p>"
        f"<p>Expires at: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(session['expires_at']))}</p>"
        f"<form method='get'>{buttons}</form>"))


def result_page(session: dict, outcome: str, deliveries: list[dict], target: str) -> str:
    """What happened, which webhooks reached the app, and a link on to success_url / cancel_url."""
    if outcome == "cancel":
        summary = "Checkout cancelled; the session stays open until it expires."
    else:
        summary = f"Payment status: {session['payment_status']} (session {session['status']})."
    rows = "".join(f"<li>{html.escape(d['type'])}: {'delivered' if d['ok'] else 'NOT delivered'}"
                   f" ({html.escape(str(d['status'] or d['error']))})</li>" for d in deliveries)
    link = f"<p><a href='{html.escape(target)}'>Continue</a></p>" if target else ""
    return _page("Checkout " + ("cancelled" if outcome == "cancel" else "done"),
                 f"<p>{html.escape(summary)}</p><ul>{rows}</ul>{link}")
