"""Catalog value objects: services, teams (hours, blackouts, limits), team members. Pure Python."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time

from chalicelib.domain.service_areas import Location, ServiceArea
from chalicelib.domain.terms import DEFAULT_TERMS, CancellationTerms


@dataclass(frozen=True)
class Money:
    amount: int  # minor units
    currency: str = "USD"

    def to_dict(self) -> dict:
        return {"amount": self.amount, "currency": self.currency}


@dataclass(frozen=True)
class ServiceOption:
    id: str
    name: str
    price: Money


@dataclass(frozen=True)
class AreaPrice:
    """What a service costs where one team works, in that area's currency (options likewise)."""
    team_id: str
    base_price: Money
    option_prices: tuple[tuple[str, Money], ...] = ()  # (option id, price); options not listed keep theirs


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    category: str
    description: str
    duration_minutes: int
    buffer_minutes: int
    slot_step_minutes: int
    lead_time_minutes: int
    base_price: Money
    team_ids: tuple[str, ...]
    options: tuple[ServiceOption, ...] = ()
    active: bool = True
    area_prices: tuple[AreaPrice, ...] = ()  # per team; a team without one charges base_price
    version: int = 1  # admin writes are conditional on it
    terms: CancellationTerms = DEFAULT_TERMS  # cancellation and reschedule terms (domain/terms.py)

    def priced_for(self, team_id: str) -> "Service":
        """The service as the team `team_id` sells it: its area's base and option prices and currency."""
        area = next((a for a in self.area_prices if a.team_id == team_id), None)
        if area is None:
            return self
        prices = dict(area.option_prices)
        return replace(self, base_price=area.base_price,
                       options=tuple(replace(o, price=prices.get(o.id, o.price)) for o in self.options))


@dataclass(frozen=True)
class TimeWindow:
    """Working window in the team's local wall time, start < end, same day."""
    start: time
    end: time


@dataclass(frozen=True)
class Blackout:
    id: str
    start: datetime  # aware, UTC
    end: datetime
    reason: str
    team_id: str | None = None  # None: applies to every team (public holiday, storm...)


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    timezone: str  # IANA name; the team's local dates drive capacity
    weekly_hours: dict[int, tuple[TimeWindow, ...]]  # weekday (0=Monday) -> windows
    daily_limit: int  # bookings per team-local day
    slot_capacity: int  # bookings that may overlap any instant (crews)
    blackouts: tuple[Blackout, ...] = ()
    version: int = 1
    service_areas: tuple[ServiceArea, ...] = ()  # where its crews go (domain/service_areas.py)
    active: bool = True  # an inactive team is offered for nothing (its bookings keep their places)

    def covers(self, location: Location) -> bool:
        return any(a.covers(location) for a in self.service_areas)


@dataclass(frozen=True)
class TeamMember:
    id: str
    team_id: str
    display_name: str
    service_ids: tuple[str, ...]
    on_call_service_ids: tuple[str, ...] = ()
    # Internal only: never leaves through portal routes.
    email: str = ""
    phone: str = ""
    internal_notes: str = ""
    bio: str = ""
    rating: float | None = None
    active: bool = True  # an inactive member is offered for nothing (their bookings keep their places)
    version: int = 1


@dataclass(frozen=True)
class Catalog:
    services: dict[str, Service] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    members: dict[str, TeamMember] = field(default_factory=dict)
    global_blackouts: tuple[Blackout, ...] = ()

    def teams_covering(self, service: Service, location: Location) -> list[Team]:
        """The teams performing `service` whose areas cover `location`, in the service's team order."""
        return [self.teams[t] for t in service.team_ids
                if t in self.teams and self.teams[t].active and self.teams[t].covers(location)]

    def members_for(self, service_id: str, team_id: str | None = None) -> list[TeamMember]:
        return sorted((m for m in self.members.values()
                       if m.active and service_id in m.service_ids and (team_id is None or m.team_id == team_id)),
                      key=lambda m: m.id)
