"""Models of the system routes (api.system)."""
from __future__ import annotations

from chalicelib.api.schemas.common import Schema


class HealthOut(Schema):
    status: str
    stage: str
