"""A real browser calling the local stack from another origin: what a portal on its own domain does.

Headless Chromium loads a page from a second loopback origin (http://localhost:<port>, the API being on
http://127.0.0.1:<port>) and calls the API with fetch(): catalog, 304 by ETag, availability, a booking with an
Idempotency-Key and its replay (reading Idempotent-Replayed), an error body (401). Then a page on an origin no
stage allows makes the same call and the browser blocks it. Finally /docs renders the routes with Swagger UI.
Fails (never skips) when Chromium cannot run: see tests/e2e/browser.py.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest

from tests.e2e.browser import DISALLOWED_HOST, Browser, PortalPage

pytestmark = pytest.mark.e2e

SERVICE = "cleaning"
TZ = "America/New_York"


@pytest.fixture(scope="module")
def browser():
    chromium = Browser()
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def portal():
    page = PortalPage()
    yield page
    page.close()


def portal_flow(api: str, token: str, key: str, first_day: str, last_day: str) -> str:
    """The JS a portal runs; returns what it could read, as JSON (a CORS failure throws in fetch)."""
    return """(async () => {
  const api = %(api)s, auth = {Authorization: "Bearer " + %(token)s};
  const out = {};
  const catalog = await fetch(api + "/services", {cache: "no-store"});
  out.catalog = {status: catalog.status, etag: catalog.headers.get("ETag"),
                 ids: (await catalog.json()).items.map(s => s.id)};
  const again = await fetch(api + "/services", {cache: "no-store", headers: {"If-None-Match": out.catalog.etag}});
  out.notModified = {status: again.status, etag: again.headers.get("ETag")};
  const avail = await fetch(api + "/services/%(service)s/availability?from=%(first)s&to=%(last)s&tz=%(tz)s"
                            + "&postalCode=10001");
  const days = (await avail.json()).days;
  const slots = days.flatMap(d => d.slots).filter(s => s.remaining > 0 && s.teamId === "team-nyc");
  out.availability = {status: avail.status, slots: slots.length};
  const body = JSON.stringify({serviceId: "%(service)s", teamId: "team-nyc", start: slots[slots.length - 1].start,
                               paymentMethod: "COD", postalCode: "10001"});
  const headers = {...auth, "Content-Type": "application/json", "Idempotency-Key": %(key)s};
  const booked = await fetch(api + "/portal/service-requests", {method: "POST", headers, body});
  const first = await booked.json();
  out.booking = {status: booked.status, id: first.id, replayed: booked.headers.get("Idempotent-Replayed"),
                 requestId: booked.headers.get("X-Request-Id")};
  const replay = await fetch(api + "/portal/service-requests", {method: "POST", headers, body});
  out.replay = {status: replay.status, id: (await replay.json()).id, replayed: replay.headers.get("Idempotent-Replayed")};
  const denied = await fetch(api + "/portal/service-requests");
  out.unauthenticated = {status: denied.status, challenge: denied.headers.get("WWW-Authenticate"),
                         code: (await denied.json()).error.code};
  return JSON.stringify(out);
})()""" % {"api": json.dumps(api), "token": json.dumps(token), "key": json.dumps(key), "service": SERVICE,
           "first": first_day, "last": last_day, "tz": TZ}


def test_a_portal_on_another_origin_books_through_the_browser(stack, browser, portal):
    api = stack.base_url
    assert portal.origin() != api  # another port, another host name: another origin
    browser.goto(portal.origin() + "/")
    first = date.today() + timedelta(days=6)
    seen = json.loads(browser.run(portal_flow(api, stack.tokens["userA"], str(uuid.uuid4()), first.isoformat(),
                                              (first + timedelta(days=20)).isoformat())))
    assert seen["catalog"]["status"] == 200 and SERVICE in seen["catalog"]["ids"]
    assert seen["catalog"]["etag"], "ETag is not exposed to the page"
    assert seen["notModified"] == {"status": 304, "etag": seen["catalog"]["etag"]}
    assert seen["availability"]["status"] == 200 and seen["availability"]["slots"] > 0
    assert seen["booking"]["status"] == 201 and seen["booking"]["replayed"] is None
    assert seen["booking"]["requestId"], "X-Request-Id is not exposed to the page"
    assert seen["replay"] == {"status": 201, "id": seen["booking"]["id"], "replayed": "true"}
    assert seen["unauthenticated"] == {"status": 401, "challenge": "Bearer", "code": "UNAUTHENTICATED"}


def test_a_page_on_a_disallowed_origin_is_blocked_by_the_browser(stack, browser, portal):
    browser.goto(portal.origin(DISALLOWED_HOST) + "/")
    assert browser.run("location.origin") == portal.origin(DISALLOWED_HOST)
    outcome = browser.run("""fetch(%s).then(r => "read " + r.status, e => e.name + ": " + e.message)"""
                          % json.dumps(stack.url("/services")))
    assert outcome.startswith("TypeError"), outcome  # "Failed to fetch": no Access-Control-Allow-Origin
    # The same page can still talk to an API that allows it: the block is CORS, not the network.
    allowed = browser.run("""fetch(%s).then(r => "read " + r.status, e => e.name)""" % json.dumps(
        portal.origin(DISALLOWED_HOST) + "/"))
    assert allowed == "read 200"


def test_docs_render_the_routes(stack, browser):
    browser.goto(stack.url("/docs"))
    paths = browser.run("""new Promise((resolve, reject) => {
  const deadline = Date.now() + 20000;
  (function poll() {
    const found = [...document.querySelectorAll(".opblock-summary-path")].map(e => e.getAttribute("data-path"));
    if (found.length > 0) return resolve(found);
    if (Date.now() > deadline) return reject(new Error("Swagger UI rendered no route: " + document.body.innerText.slice(0, 500)));
    setTimeout(poll, 100);
  })();
})""")
    assert {"/services", "/portal/service-requests", "/services/{service_id}/availability"} <= set(paths)


def test_the_local_server_answers_preflights_and_unknown_routes_for_browsers(stack, http, portal):
    origin = portal.origin()
    preflight = http.options(stack.url("/portal/service-requests"), headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert {"POST", "GET"} <= {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")}
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    unknown = http.get(stack.url("/no/such/route"), headers={"Origin": origin})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
    assert unknown.headers["X-Request-Id"] and unknown.headers["Access-Control-Allow-Origin"] == origin
    assert "X-Request-Id" in unknown.headers["Access-Control-Expose-Headers"]
    elsewhere = http.get(stack.url("/no/such/route"), headers={"Origin": f"http://{DISALLOWED_HOST}"})
    assert elsewhere.headers["X-Request-Id"] and "Access-Control-Allow-Origin" not in elsewhere.headers
