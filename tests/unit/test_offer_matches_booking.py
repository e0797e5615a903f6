"""One offer from availability to booking, over random catalogs (hypothesis, in-memory fakes): for the first slot
availability lists for a location, validate answers, the preview says the first occurrence is available, and the
quote's total and currency are what the booking then created charges; an uncovered location is refused by all."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.booking import PaymentMethod
from chalicelib.domain.catalog import AreaPrice, Catalog, Money, Service, Team, TeamMember, TimeWindow
from chalicelib.domain.errors import ServiceAreaNotCovered
from chalicelib.domain.pricing import PricingPolicy
from chalicelib.domain.principal import Principal
from chalicelib.domain.service_areas import area
from chalicelib.services import availability, booking, booking_validation, pricing, recurrence
from tests.unit.test_booking_with_fakes import NOW, Deps, NoPromotions

DAY = date(2026, 12, 2)  # a Wednesday, a week after NOW
ZONES = ("America/New_York", "America/Chicago", "Europe/London")
ZIPS = ("10001", "10123", "10250", "10399")


@st.composite
def catalogs(draw) -> Catalog:
    count = draw(st.integers(1, 3))
    teams, members, prices = {}, {}, []
    for n in range(count):
        opens, closes = draw(st.integers(6, 10)), draw(st.integers(14, 20))
        prefixes = draw(st.sets(st.sampled_from(("100", "101", "102", "103")), min_size=1))
        team = Team(id=f"t{n}", name=f"T{n}", timezone=draw(st.sampled_from(ZONES)),
                    weekly_hours={d: (TimeWindow(time(opens), time(closes)),) for d in range(7)},
                    daily_limit=draw(st.integers(1, 4)), slot_capacity=draw(st.integers(1, 2)),
                    service_areas=(area("US", prefixes=prefixes),))
        teams[team.id] = team
        for m in range(draw(st.integers(1, 2))):
            members[f"m{n}{m}"] = TeamMember(id=f"m{n}{m}", team_id=team.id, display_name="M", service_ids=("svc",))
        if draw(st.booleans()):
            prices.append(AreaPrice(team.id, Money(draw(st.integers(5000, 20000)), draw(st.sampled_from(("USD", "GBP"))))))
    service = Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                      buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60, base_price=Money(10000),
                      team_ids=tuple(teams), area_prices=tuple(prices))
    return Catalog(services={"svc": service}, teams=teams, members=members)


class FixedCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def get(self) -> Catalog:
        return self._catalog

    def invalidate(self) -> None:
        return None


def deps_for(catalog: Catalog) -> Deps:
    deps = Deps()
    deps.catalog = FixedCatalog(catalog)
    return deps


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalog=catalogs(), postal_code=st.sampled_from(ZIPS))
def test_the_first_offer_of_a_location_is_what_booking_charges(catalog, postal_code):
    deps = deps_for(catalog)
    user = Principal("user-p")
    covered = [t for t in catalog.teams.values() if any(postal_code.startswith(p) for a in t.service_areas
                                                         for p in a.prefixes)]
    if not covered:
        for call in (lambda: availability.get_availability(deps, "svc", DAY, DAY, "UTC", postal_code=postal_code),
                     lambda: pricing.quote(catalog, NoPromotions(), PricingPolicy(), pricing.QuoteRequest(
                         "svc", datetime.combine(DAY, time(15), timezone.utc), "UTC", postal_code=postal_code,
                         now=NOW)),
                     lambda: booking.create(deps, user, booking.BookingDraft(
                         "svc", datetime.combine(DAY, time(15), timezone.utc), PaymentMethod.COD,
                         postal_code=postal_code))):
            with pytest.raises(ServiceAreaNotCovered):
                call()
        return
    days = availability.get_availability(deps, "svc", DAY, DAY, "UTC", postal_code=postal_code)["days"]
    offers = [s for d in days for s in d["slots"] if s["remaining"] > 0]
    assert offers and {s["teamId"] for s in offers} <= {t.id for t in covered}
    offer = offers[0]
    start = datetime.fromisoformat(offer["start"])
    quoted = pricing.quote(catalog, NoPromotions(), PricingPolicy(), pricing.QuoteRequest(
        "svc", start, "UTC", team_id=offer["teamId"], postal_code=postal_code, now=NOW))["quote"]
    draft = booking.BookingDraft("svc", start, PaymentMethod.COD, team_id=offer["teamId"], postal_code=postal_code)
    validated = booking_validation.view(booking_validation.validate(deps, user, draft))
    check = recurrence.check_from_day_slots(
        lambda service_id, local_day, team_id: availability.day_slots(deps, service_id, team_id, local_day))
    previewed = recurrence.preview(catalog, NoPromotions(), PricingPolicy(), recurrence.PreviewRequest(
        "svc", start, "UTC", "FREQ=WEEKLY;COUNT=2", team_id=offer["teamId"], postal_code=postal_code, now=NOW),
        check)
    booked = booking.create(deps, user, draft)
    assert booked.placement.team_id == validated["teamId"] == previewed["teamId"] == offer["teamId"]
    assert previewed["series"]["occurrences"][0]["availability"] == "AVAILABLE"
    assert quoted["total"] == validated["price"]["total"] == booked.price["total"]
    assert quoted["currency"] == booked.price["currency"]
