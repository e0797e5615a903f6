"""Wiring only: the Chalice app, middleware, blueprints, schedules and websocket handlers."""
from chalice import Chalice

from chalicelib.api import catalog, system
from chalicelib.observability import flush, logger

app = Chalice(app_name="service-portal")
app.log = logger  # one logger for the app and chalice's own messages


@app.middleware("http")
def observe(event, get_response):
    """Correlation id = API Gateway request id; metrics flushed once per request."""
    request_id = (event.context or {}).get("requestId")
    logger.set_correlation_id(request_id)
    logger.append_keys(path=event.path, method=event.method)
    try:
        response = get_response(event)
        logger.info("request", extra={"status": response.status_code})
        if request_id:
            response.headers["X-Request-Id"] = request_id
        return response
    finally:
        flush()
        logger.remove_keys(["path", "method"])


app.register_blueprint(system.bp)
app.register_blueprint(catalog.bp)
