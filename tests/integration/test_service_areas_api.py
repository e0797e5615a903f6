"""GET /service-areas/lookup on the real app with the demo catalog: New York ZIPs reach the New York crew,
London postcodes the London crew, anything else is 422 SERVICE_AREA_NOT_COVERED; malformed input is 400."""
from __future__ import annotations

import pytest


def lookup(client, **query):
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return client.http.get(f"/service-areas/lookup?{params}")


def teams_by_service(body: dict) -> dict[str, list[str]]:
    return {s["serviceId"]: [t["teamId"] for t in s["teams"]] for s in body["services"]}


def test_a_new_york_zip_reaches_only_the_new_york_crew(client):
    response = lookup(client, postalCode="10001-2345")
    assert response.status_code == 200, response.body
    body = response.json_body
    assert (body["postalCode"], body["country"]) == ("10001", "US")
    assert set(sum(teams_by_service(body).values(), [])) == {"team-nyc"}


def test_a_london_postcode_reaches_only_the_london_crew(client):
    response = lookup(client, postalCode="sw1a%201aa", country="gb")
    assert response.status_code == 200, response.body
    body = response.json_body
    assert (body["postalCode"], body["country"]) == ("SW1A1AA", "GB")
    assert set(sum(teams_by_service(body).values(), [])) == {"team-london"}


@pytest.mark.parametrize("query", [{"postalCode": "11201"}, {"postalCode": "E14%205AB"},
                                   {"postalCode": "75001", "country": "FR"}])
def test_an_uncovered_location_is_422_with_the_normalised_code(client, query):
    response = lookup(client, **query)
    assert response.status_code == 422, response.body
    assert response.json_body["error"]["code"] == "SERVICE_AREA_NOT_COVERED"
    assert response.json_body["error"]["details"]["postalCode"] == query["postalCode"].replace("%20", "")


@pytest.mark.parametrize("query", [{"postalCode": "1000"}, {"postalCode": "10001", "country": "USA"},
                                   {"postalCode": "x" * 40}, {}])
def test_malformed_input_is_400(client, query):
    response = lookup(client, **query)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "VALIDATION_ERROR"
