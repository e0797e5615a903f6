"""Service areas: postal codes normalised per country, prefixes and GB districts matched, overlap allowed."""
from __future__ import annotations

import pytest

from chalicelib.domain.catalog import Catalog, Money, Service, Team
from chalicelib.domain.errors import ServiceAreaNotCovered, ValidationFailed
from chalicelib.domain.service_areas import area, normalise
from chalicelib.services import service_areas

NYC = area("US", prefixes=("100", "101", "102"))
LONDON = area("GB", codes=("SW1A", "EC1", "E1", "N1", "W1"))


@pytest.mark.parametrize("raw, country, expected", [
    ("10001", "US", "10001"), (" 10001-1234 ", "us", "10001"), ("100011234", "US", "10001"),
    ("sw1a 1aa", "GB", "SW1A1AA"), ("SW1A1AA", "gb", "SW1A1AA"), ("e1", "GB", "E1"),
    ("75 001", "FR", "75001"), ("1234-567", "PT", "1234567"),
])
def test_input_is_normalised(raw, country, expected):
    assert normalise(raw, country).postal_code == expected


@pytest.mark.parametrize("raw, country", [
    ("1000", "US"), ("10001-12", "US"), ("ABCDE", "US"), ("SW1A 1A", "GB"), ("12345", "GB"), ("", "US"),
    ("   ", "GB"), ("10001", "USA"), ("10001", "1X"), ("x" * 40, "FR"), ("75*01", "FR"),
])
def test_malformed_input_is_refused(raw, country):
    with pytest.raises(ValidationFailed):
        normalise(raw, country)


@pytest.mark.parametrize("raw, country, covered", [
    ("10001", "US", True), ("10299", "US", True), ("10301", "US", False), ("11201", "US", False),
    ("10001", "FR", False),  # the same digits in another country never match
    ("SW1A 1AA", "GB", True), ("SW1A", "GB", True), ("SW1P 3BU", "GB", False),
    ("E1 6AN", "GB", True), ("E1W 1AA", "GB", True),  # E1W is a sub-district of E1
    ("E14 5AB", "GB", False),  # E14 is another district, not a sub-district of E1
    ("EC1A 1BB", "GB", True), ("W1A 0AX", "GB", True), ("N16 0AA", "GB", False),
])
def test_areas_cover_prefixes_codes_and_districts(raw, country, covered):
    location = normalise(raw, country)
    assert (NYC.covers(location) or LONDON.covers(location)) is covered


def catalog() -> Catalog:
    teams = {"nyc": Team("nyc", "NY", "America/New_York", {}, 5, 1, service_areas=(NYC,)),
             "nyc-2": Team("nyc-2", "NY 2", "America/New_York", {}, 5, 1, service_areas=(area("US", ("10001",)),)),
             "london": Team("london", "London", "Europe/London", {}, 5, 1, service_areas=(LONDON,))}
    svc = Service("svc", "Cleaning", "cleaning", "", 60, 0, 60, 0, Money(100), ("nyc", "nyc-2", "london"))
    return Catalog(services={"svc": svc}, teams=teams)


def test_overlapping_areas_make_every_covering_team_a_candidate():
    cat = catalog()
    location = service_areas.locate(cat, "10001", None)
    assert [t.id for t in service_areas.covering_teams(cat, cat.services["svc"], location)] == ["nyc", "nyc-2"]
    assert [t.id for t in service_areas.covering_teams(cat, cat.services["svc"],
                                                       service_areas.locate(cat, "10002", "US"))] == ["nyc"]


def test_without_a_country_the_code_format_tells_which_served_country_it_is():
    cat = catalog()
    assert service_areas.locate(cat, "10001", None).country == "US"
    assert service_areas.locate(cat, "SW1A 1AA", None).country == "GB"
    with pytest.raises(ValidationFailed):
        service_areas.locate(cat, "75001X", None)  # fits neither served country


def test_an_uncovered_location_is_refused_with_its_normalised_code():
    cat = catalog()
    with pytest.raises(ServiceAreaNotCovered) as refused:
        service_areas.covering_teams(cat, cat.services["svc"], service_areas.locate(cat, "11201-0001", None))
    assert refused.value.details["postalCode"] == "11201" and refused.value.details["country"] == "US"
    with pytest.raises(ServiceAreaNotCovered):
        service_areas.lookup(cat, "E14 5AB", "GB")


def test_lookup_lists_the_services_and_teams_of_a_location():
    answer = service_areas.lookup(catalog(), "sw1a 1aa", None)
    assert answer == {"postalCode": "SW1A1AA", "country": "GB",
                      "services": [{"serviceId": "svc", "name": "Cleaning",
                                    "teams": [{"teamId": "london", "timezone": "Europe/London"}]}]}
