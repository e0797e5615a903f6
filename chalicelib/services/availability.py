"""Availability entry points used outside HTTP (realtime pushes)."""
from __future__ import annotations


def day_slots(service_id: str, local_date: str, team_id: str) -> list[dict]:
    """Slots {start, remaining} of one team on one team-local date, through the composition root."""
    from chalicelib.bootstrap import container
    from chalicelib.services.booking import day_slots as compute

    return compute(container(), service_id, team_id, local_date)
