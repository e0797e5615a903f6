"""Request/response models (pydantic v2). The OpenAPI document is generated from these and api.routing.REGISTRY.

Areas add their models here, grouped under a heading comment.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Request models reject unknown fields so typos fail loudly instead of being ignored."""
    model_config = ConfigDict(extra="forbid")


class MoneyOut(BaseModel):
    amount: int = Field(description="Minor units (cents).")
    currency: str = "USD"


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: dict = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorInfo


# --- system ----------------------------------------------------------------------------------------------
class HealthOut(BaseModel):
    status: str
    stage: str


# --- catalog ---------------------------------------------------------------------------------------------
class ServiceOptionOut(BaseModel):
    id: str
    name: str
    price: MoneyOut


class ServiceOut(BaseModel):
    id: str
    name: str
    category: str
    description: str
    durationMinutes: int
    bufferMinutes: int
    slotStepMinutes: int
    leadTimeMinutes: int
    basePrice: MoneyOut
    teamIds: list[str]
    options: list[ServiceOptionOut]


class ServiceListOut(BaseModel):
    items: list[ServiceOut]


class TeamMemberOut(BaseModel):
    """Portal-safe: no e-mail, phone or internal notes."""
    model_config = ConfigDict(extra="forbid")
    id: str
    teamId: str
    displayName: str
    bio: str
    rating: float | None = None


class TeamMemberListOut(BaseModel):
    items: list[TeamMemberOut]
