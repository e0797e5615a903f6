"""Wiring only: the Chalice app, middleware, blueprints, schedules and websocket handlers."""
import os

from chalice import Chalice, Cron, Rate

from chalicelib.api import admin, bookings, calendar, catalog, realtime, system
from chalicelib.api import admin_refunds, payments
from chalicelib.api import pricing, promotions
from chalicelib.api import docs, emergency
from chalicelib.api import admin_jobs
from chalicelib.api import reports
from chalicelib.api import admin_catalog, admin_crew, admin_lookups
from chalicelib import invocation
from chalicelib.api import cors
from chalicelib.api.errors import in_contract_format
from chalicelib.bootstrap import container
from chalicelib.observability import end_invocation, flush, logger, start_invocation

app = Chalice(app_name="service-portal")
app.log = logger  # one logger for the app and chalice's own messages
app.experimental_feature_flags.update(["WEBSOCKETS"])  # chalice 1.34 still gates websockets


@app.middleware("all")
def observe_every_invocation(event, get_response):
    """Every invocation, whatever its kind (HTTP, websocket, schedule, stream; chalice applies "all" middleware
    to each): logs carry a correlation id and the Lambda context, and the metrics it recorded are published once,
    however it ends."""
    start_invocation(event)
    try:
        return get_response(event)
    finally:
        flush()
        end_invocation()


@app.middleware("http")
def observe(event, get_response):
    """Correlation id = API Gateway request id; one log line per request; chalice's own errors in the contract's
    format; CORS headers for allowed browser origins (api.cors), on every answer including errors."""
    request_id = (event.context or {}).get("requestId")
    invocation.lambda_context.set(event.lambda_context)
    logger.set_correlation_id(request_id)
    logger.append_keys(path=event.path, method=event.method)
    try:
        response = in_contract_format(get_response(event))
        response.headers = cors.with_vary_origin({**response.headers, **cors.response_headers(
            event.headers, container().settings.cors_allowed_origins)})
        logger.info("request", extra={"status": response.status_code})
        if request_id:
            response.headers["X-Request-Id"] = request_id
        return response
    finally:
        logger.remove_keys(["path", "method"])


app.register_blueprint(system.bp)
app.register_blueprint(catalog.bp)
app.register_blueprint(bookings.bp)
app.register_blueprint(admin.bp)
app.register_blueprint(admin_jobs.bp)
app.register_blueprint(admin_catalog.bp)
app.register_blueprint(admin_crew.bp)
app.register_blueprint(admin_lookups.bp)
app.register_blueprint(realtime.bp)
app.register_blueprint(calendar.bp)
app.register_blueprint(payments.bp)
app.register_blueprint(admin_refunds.bp)
app.register_blueprint(pricing.bp)
app.register_blueprint(promotions.bp)
app.register_blueprint(emergency.bp)
app.register_blueprint(reports.bp)
app.register_blueprint(docs.bp)


@app.schedule(Rate(15, unit=Rate.MINUTES))
def send_reminders(event):
    return calendar.run_reminders(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def send_outbox(event):
    return calendar.run_outbox(event)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def expire_holds(event):
    return payments.expire_holds_job(event)


# 03:30 UTC nightly, and hourly until 06:30 to finish a run that stopped early or hit errors (reconcile_tonight).
@app.schedule(Cron(30, "3-6", "*", "*", "?", "*"))
def reconcile_payments(event):
    return payments.reconcile_payments_job(event)


@app.on_ws_connect()
def ws_connect(event):
    return realtime.on_connect(event)


@app.on_ws_message()
def ws_message(event):
    realtime.on_message(event)


@app.on_ws_disconnect()
def ws_disconnect(event):
    realtime.on_disconnect(event)


# AWS stages push availability from the service-requests stream (keeps a booking at 3 DynamoDB requests);
# the stage's env (present when chalice packages the app) decides whether this Lambda exists.
if os.environ.get("REALTIME_DELIVERY") == "stream":
    from chalicelib.api import streams

    @app.on_dynamodb_record(stream_arn=os.environ["REQUESTS_STREAM_ARN"], batch_size=100,
                            name="realtime_from_requests")
    def realtime_from_requests(event):
        return streams.on_requests_stream(event.to_dict())
