"""Reconciliation cost figures: Stripe API calls and DynamoDB read requests for one nightly run over 1000 open
card payments in a table of 10000 service requests (the other 9000 are settled and must cost nothing).

Everything runs in-process: moto for DynamoDB, the Stripe stub on loopback (its sessions are created directly
in the stub to keep the setup short; the run itself goes through the real gateway over HTTP)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from bench import ddb_counter

PENDING = 1000
TOTAL = 10000
READ_OPERATIONS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def _request(index: int, now: datetime, pending: bool):
    from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
    from chalicelib.domain.payment import Payment
    start = now + timedelta(days=3, hours=index % 48) if pending else now - timedelta(days=30, hours=index % 500)
    card = pending or index % 2 == 0
    status = Status.PENDING_PAYMENT if pending else Status.COMPLETED if start < now else Status.CONFIRMED
    payment_status = (PaymentStatus.PENDING if pending else PaymentStatus.PAID if card
                      else PaymentStatus.COD_COLLECTED)
    return ServiceRequest(
        id=f"sr_bench_{index:05d}", user_id=f"user-{index % 300}", service_id="svc",
        placement=Placement(team_id="t1", member_id=f"m{index % 20}", start=start, end=start + timedelta(hours=1),
                            local_date=start.date().isoformat(), timezone="UTC", cells=(start.isoformat(),)),
        status=status, payment_status=payment_status,
        payment_method=PaymentMethod.CARD if card else PaymentMethod.COD,
        price={"currency": "USD", "lines": [], "subtotal": 10000, "discount": 0, "total": 10000},
        created_at=now - timedelta(minutes=10) if pending else start - timedelta(days=5),
        updated_at=now - timedelta(minutes=10) if pending else start,
        hold_expires_at=now + timedelta(minutes=40) if pending else None,
        payment=Payment(amount=10000, currency="USD", attempt=1) if card else Payment())


def figures() -> dict:
    from moto import mock_aws

    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.adapters.stripe_gateway import StripeGateway
    from chalicelib.bootstrap import Container
    from chalicelib.services import payments
    from chalicelib.settings import settings_from_env
    from devtools.stripe_stub import start_in_thread

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for key in ("DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(key, None)
    ddb_counter.install()
    server, base = start_in_thread(webhook_url=None)
    try:
        with mock_aws():
            settings = settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": "bench-pay-"})
            create_tables(settings)
            now = datetime.now(timezone.utc)
            stub = server.stub
            with ServiceRequestItem.batch_write() as batch:
                for index in range(TOTAL):
                    request = _request(index, now, pending=index < PENDING)
                    if index < PENDING:
                        session = stub.create_session({
                            "mode": "payment", "client_reference_id": request.id,
                            "metadata": {"serviceRequestId": request.id},
                            "expires_at": str(int(request.hold_expires_at.timestamp())),
                            "line_items": [{"quantity": "1", "price_data": {
                                "currency": "usd", "unit_amount": "10000", "product_data": {"name": "svc"}}}]})
                        request = request.with_changes(payment=request.payment.with_changes(
                            session_id=session["id"], checkout_url=session["url"]))
                    elif request.payment_method.value == "CARD":
                        request = request.with_changes(
                            payment=request.payment.with_changes(session_id=f"cs_old_{index}"))
                    batch.save(to_item(request, 1))
            gateway = StripeGateway(settings.stripe_api_key, settings.stripe_webhook_secret, api_base=base,
                                    max_network_retries=0)
            deps = Container(settings).override(stripe=gateway)
            deps.payment_store  # noqa: B018 - bind the tables before counting
            ddb_counter.reset()
            first = payments.reconcile_payments(deps)
            reads = sum(n for op, n in ddb_counter.snapshot().items() if op in READ_OPERATIONS)
            ddb_total = ddb_counter.total()
            second = payments.reconcile_payments(deps)
    finally:
        server.shutdown()
        server.server_close()
    return {"stripe_calls_reconcile_1000_pending": first["stripeCalls"],
            "ddb_reads_reconcile_1000_pending_in_10000": reads,
            "ddb_requests_reconcile_1000_pending_in_10000": ddb_total,
            "reconcile_1000_pending_changed_first_run": first["changed"],
            "reconcile_1000_pending_changed_second_run": second["changed"]}


if __name__ == "__main__":
    import json
    print(json.dumps(figures(), sort_keys=True))
