"""Demo data for the local stack and the tests, written through the catalog repository.

Idempotent: every item has a stable id, so a rerun overwrites the same items instead of adding copies.
`python -m devtools.seed` seeds the tables named by the environment; tests call `seed_demo(settings)`.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib.adapters import dev_tokens
from chalicelib.domain.catalog import (AreaPrice, Blackout, Money, Service, ServiceOption, Team, TeamMember,
                                       TimeWindow)
from chalicelib.domain.service_areas import area
from chalicelib.domain.terms import CancellationTerms
from chalicelib.settings import Settings, settings_from_env

NYC, LONDON = "team-nyc", "team-london"
MON, TUE, WED, THU, FRI, SAT = range(6)


def _window(start: str, end: str) -> TimeWindow:
    return TimeWindow(time.fromisoformat(start), time.fromisoformat(end))


SERVICES: tuple[Service, ...] = (
    Service(id="cleaning", name="Home cleaning", category="cleaning",
            description="Standard cleaning of a home up to 120 m2.", duration_minutes=120, buffer_minutes=30,
            slot_step_minutes=30, lead_time_minutes=12 * 60, base_price=Money(8900), team_ids=(NYC, LONDON),
            options=(ServiceOption("deep-clean", "Deep clean", Money(4000)),
                     ServiceOption("oven", "Oven cleaning", Money(2500))),
            area_prices=(AreaPrice(LONDON, Money(7500, "GBP"), (("deep-clean", Money(3500, "GBP")),
                                                                  ("oven", Money(2000, "GBP")))),),
            terms=CancellationTerms(free_until_hours=24, late_policy="percent", late_fee=50, no_show_fee=4000)),
    Service(id="plumbing", name="Plumbing repair", category="plumbing",
            description="Leaks, blocked drains, taps and toilets.", duration_minutes=60, buffer_minutes=15,
            slot_step_minutes=30, lead_time_minutes=2 * 60, base_price=Money(12000), team_ids=(NYC, LONDON),
            options=(ServiceOption("parts-kit", "Standard parts kit", Money(3500)),),
            area_prices=(AreaPrice(LONDON, Money(9500, "GBP"), (("parts-kit", Money(3000, "GBP")),)),),
            terms=CancellationTerms(free_until_hours=4, late_policy="fixed", late_fee=3000, no_show_fee=3000)),
    Service(id="electrical", name="Electrical inspection", category="electrical",
            description="Safety inspection of a home's wiring and fuse box.", duration_minutes=90,
            buffer_minutes=30, slot_step_minutes=60, lead_time_minutes=24 * 60, base_price=Money(15000),
            team_ids=(NYC, LONDON),
            options=(ServiceOption("certificate", "Inspection certificate", Money(5000)),),
            area_prices=(AreaPrice(LONDON, Money(12500, "GBP"), (("certificate", Money(4000, "GBP")),)),),
            terms=CancellationTerms(free_until_hours=48, late_policy="not_allowed", late_fee=0, no_show_fee=5000)),
)

NYC_HOURS = {day: (_window("08:00", "12:00"), _window("13:00", "18:00")) for day in (MON, TUE, WED, THU, FRI)}
NYC_HOURS[SAT] = (_window("09:00", "13:00"),)
LONDON_HOURS = {day: (_window("09:00", "17:30"),) for day in (MON, TUE, WED, THU, FRI)}

# Internal-only member fields: tests assert that none of these strings ever reaches a portal response.
MEMBERS: tuple[TeamMember, ...] = (
    TeamMember(id="member-ava", team_id=NYC, display_name="Ava M.", service_ids=("cleaning",),
               email="ava.private@staff.example.com", phone="+1-212-555-0101",
               internal_notes="INTERNAL-NOTE allergic to cats", bio="Ten years of spotless homes.", rating=4.9),
    TeamMember(id="member-ben", team_id=NYC, display_name="Ben R.", service_ids=("plumbing", "electrical"),
               on_call_service_ids=("plumbing",), email="ben.private@staff.example.com",
               phone="+1-212-555-0102", internal_notes="INTERNAL-NOTE van in repair until Friday",
               bio="Licensed plumber and electrician.", rating=4.7),
    TeamMember(id="member-chloe", team_id=NYC, display_name="Chloe T.", service_ids=("cleaning", "electrical"),
               email="chloe.private@staff.example.com", phone="+1-212-555-0103",
               internal_notes="INTERNAL-NOTE prefers morning jobs", bio="Detail-oriented and fast.", rating=4.8),
    TeamMember(id="member-dan", team_id=LONDON, display_name="Dan K.", service_ids=("plumbing",),
               on_call_service_ids=("plumbing",), email="dan.private@staff.example.com",
               phone="+44-20-7946-0104", internal_notes="INTERNAL-NOTE on probation",
               bio="Emergency plumbing across London.", rating=4.6),
    TeamMember(id="member-emma", team_id=LONDON, display_name="Emma W.", service_ids=("cleaning", "electrical"),
               on_call_service_ids=("electrical",), email="emma.private@staff.example.com",
               phone="+44-20-7946-0105", internal_notes="INTERNAL-NOTE needs parking permit",
               bio="Qualified electrician, tidy cleaner.", rating=4.9),
)

# Who `make run` and the tests act as: key -> (sub, groups, email).
DEMO_PRINCIPALS: dict[str, tuple[str, list[str], str]] = {
    "userA": ("user-a", [], "user-a@example.com"),
    "userB": ("user-b", [], "user-b@example.com"),
    "admin": ("admin-1", ["admin"], "admin@example.com"),
}


def _local_day_utc(day: date, zone: str) -> tuple[datetime, datetime]:
    """A whole local day in `zone` as a UTC interval (23 or 25 hours on DST change days)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time.min, tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def _next_weekday(today: date, weekday: int, at_least_days: int) -> date:
    day = today + timedelta(days=at_least_days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def demo_teams(today: date) -> tuple[Team, ...]:
    """Teams, with the London team's training day two weeks out (so it is always in the future)."""
    training_start, training_end = _local_day_utc(_next_weekday(today, WED, 14), "Europe/London")
    return (
        Team(id=NYC, name="New York crew", timezone="America/New_York", weekly_hours=NYC_HOURS, daily_limit=8,
             slot_capacity=2, service_areas=(area("US", prefixes=("100", "101", "102")),)),
        Team(id=LONDON, name="London crew", timezone="Europe/London", weekly_hours=LONDON_HOURS, daily_limit=6,
             slot_capacity=1, service_areas=(area("GB", codes=("SW1A", "EC1", "E1", "N1", "W1")),),
             blackouts=(Blackout(id="blackout-london-training", start=training_start, end=training_end,
                                 reason="Team training day", team_id=LONDON),)),
    )


def demo_global_blackouts(today: date) -> tuple[Blackout, ...]:
    new_year = date(today.year + 1, 1, 1)
    return (Blackout(id="blackout-new-year", start=datetime.combine(new_year, time.min, timezone.utc),
                     end=datetime.combine(new_year + timedelta(days=1), time.min, timezone.utc),
                     reason="New Year's Day"),)


def seed_demo(settings: Settings, today: date | None = None) -> dict[str, int]:
    """Write the demo catalog into the tables of `settings` (which must exist). Returns counts per kind.

    Raises TemporarilyUnavailable/Throttled (from the repository) if DynamoDB cannot be reached.
    """
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.adapters.dynamodb.tables import configure_models

    today = today or datetime.now(timezone.utc).date()
    configure_models(settings)
    repo = DynamoCatalogRepository()
    teams, blackouts = demo_teams(today), demo_global_blackouts(today)
    for service in SERVICES:
        repo.put_service(service)
    for team in teams:
        repo.put_team(team)
    for member in MEMBERS:
        repo.put_member(member)
    for blackout in blackouts:
        repo.put_global_blackout(blackout)
    if settings.is_local:
        verify_sender(settings)
    return {"services": len(SERVICES), "teams": len(teams), "members": len(MEMBERS),
            "globalBlackouts": len(blackouts)}


def verify_sender(settings: Settings) -> None:
    """The local SES (moto) rejects mail from unverified addresses, as SES does: verify MAIL_FROM (idempotent)."""
    import boto3

    boto3.client("sesv2", region_name=settings.region, endpoint_url=settings.ses_endpoint).create_email_identity(
        EmailIdentity=settings.mail_from)


def demo_tokens(settings: Settings) -> dict[str, str]:
    """Dev tokens (valid 30 days) for the demo principals, signed with the stage's dev-token secret."""
    return {key: dev_tokens.issue(settings.dev_token_secret, sub, groups=groups, email=email)
            for key, (sub, groups, email) in DEMO_PRINCIPALS.items()}


def main() -> None:
    settings = settings_from_env()
    counts = seed_demo(settings)
    print("seeded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


if __name__ == "__main__":
    main()
