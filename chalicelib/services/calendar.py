"""Calendar invites for service requests and the signed e-mail links (ICS download, cancel, reschedule)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Protocol

from chalicelib.domain import links
from chalicelib.domain.booking import ServiceRequest, Status
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invite import Invite, build_invite
from chalicelib.domain.principal import Principal
from chalicelib.services import booking, changes
from chalicelib.services.ports import CatalogSource, Clock, SecretSource, ServiceRequestRepository

if TYPE_CHECKING:
    from chalicelib.settings import Settings


class CalendarDeps(Protocol):
    settings: Settings  # portal_base_url, mail_from
    secrets: SecretSource  # link_signing_secrets
    catalog: CatalogSource
    requests: ServiceRequestRepository
    clock: Clock
    render_ics: Callable[[Invite], bytes]


class LinkCancelDeps(CalendarDeps, changes.ChangeDeps, Protocol):
    """Cancelling from a signed link is a cancellation like any other."""


@dataclass(frozen=True)
class LinkActor(Principal):
    """Whoever holds a request's signed cancel link; audited as 'link:<request id>'."""

    @property
    def actor(self) -> str:
        return self.user_id


@dataclass(frozen=True)
class LinkOwner(Principal):
    """The request's owner reached through its signed reschedule link; audited as 'link:<request id>'."""
    request_id: str = ""

    @property
    def actor(self) -> str:
        return f"link:{self.request_id}"


@dataclass(frozen=True)
class Ics:
    body: bytes
    method: str  # REQUEST | CANCEL (for the Content-Type's method parameter)
    filename: str


def portal_url(deps: CalendarDeps, request_id: str) -> str:
    return f"{deps.settings.portal_base_url.rstrip('/')}/requests/{request_id}"


def link_token(deps: CalendarDeps, request: ServiceRequest, purpose: str) -> str:
    return links.sign(deps.secrets.link_signing_secrets()[0], request.id, purpose, request.placement.start)


def cancel_url(deps: CalendarDeps, request: ServiceRequest) -> str | None:
    """The portal page that confirms and POSTs /links/{token}/cancel; None once there is nothing to cancel."""
    if request.status not in (Status.PENDING_PAYMENT, Status.CONFIRMED) or request.placement.start <= deps.clock():
        return None
    token = link_token(deps, request, links.CANCEL)
    return f"{deps.settings.portal_base_url.rstrip('/')}/links/{token}/cancel"


def invite_for(deps: CalendarDeps, request: ServiceRequest, zone: str | None = None) -> Invite:
    catalog = deps.catalog.get()
    service = catalog.services.get(request.service_id)
    member = catalog.members.get(request.placement.member_id)
    return build_invite(request, service_name=service.name if service else request.service_id,
                        member_name=member.display_name if member else "To be assigned",
                        zone=zone or request.placement.timezone, stamp=deps.clock(),
                        organizer=deps.settings.mail_from, portal_url=portal_url(deps, request.id),
                        cancel_url=cancel_url(deps, request))


def render(deps: CalendarDeps, request: ServiceRequest, zone: str | None = None) -> Ics:
    invite = invite_for(deps, request, zone)
    return Ics(body=deps.render_ics(invite), method="CANCEL" if invite.cancelled else "REQUEST",
               filename=f"booking-{request.id}.ics")


def own_calendar(deps: CalendarDeps, principal: Principal, request_id: str, zone: str | None = None) -> Ics:
    """Raises NotFound (also for another user's request)."""
    return render(deps, booking.get_own(deps, principal, request_id), zone)


def _request_for_link(deps: CalendarDeps, token: str, purpose: str) -> ServiceRequest:
    now = deps.clock()
    request_id = next((found for secret in deps.secrets.link_signing_secrets()
                       if (found := links.verify(secret, token, purpose, now))), None)
    request = deps.requests.get(request_id) if request_id else None
    if request is None:
        raise NotFound()  # same answer for every failure: nothing about the token leaks
    return request


def link_calendar(deps: CalendarDeps, token: str, zone: str | None = None) -> Ics:
    """Raises NotFound for a malformed, tampered, expired or non-ICS token."""
    return render(deps, _request_for_link(deps, token, links.ICS), zone)


def cancel_by_link(deps: LinkCancelDeps, token: str, reason: str | None = None) -> ServiceRequest:
    """Cancel the one request the token was issued for. Raises NotFound, InvalidState."""
    request = _request_for_link(deps, token, links.CANCEL)
    return changes.cancel(deps, None, request.id, reason, actor=LinkActor(user_id=f"link:{request.id}"))


def reschedule_by_link(deps: LinkCancelDeps, token: str, start: datetime,
                       member_id: str | None = None) -> ServiceRequest:
    """Move the one request the token was issued for, as its owner would. Raises NotFound and the errors of
    changes.reschedule. The e-mail about the move carries links issued for the new start."""
    request = _request_for_link(deps, token, links.RESCHEDULE)
    return changes.reschedule(deps, LinkOwner(user_id=request.user_id, request_id=request.id), request.id, start,
                              member_id)
