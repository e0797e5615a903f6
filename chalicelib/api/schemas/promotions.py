"""Models of the promotion-rule admin routes (api.promotions)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt

from chalicelib.api.schemas.common import Cursor, Identifier, Instant, Reason, Schema, Strict

AuditReason = Annotated[Reason | None, Field(description="Recorded in the audit entry.")]


class PromoRuleIn(Strict):
    """A promotion rule. Amounts are minor units of `currency`; percent values are basis points."""
    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                           description="Optional on create (generated when absent); must match the path on PUT.")
    code: str | None = Field(default=None, min_length=2, max_length=32, pattern=r"^\s*[A-Za-z0-9][A-Za-z0-9_-]+\s*$",
                             description="Code customers type (case-insensitive, unique); null = automatic rule.")
    kind: Literal["percent", "fixed"]
    value: StrictInt = Field(gt=0, description="percent: basis points (1000 = 10 %, at most 10000); fixed: minor "
                                               "units.")
    description: str = Field(default="", max_length=200)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    validFrom: Instant | None = Field(default=None, description="Inclusive; judged at the appointment start.")
    validTo: Instant | None = Field(default=None, description="Exclusive; judged at the appointment start.")
    serviceIds: list[Identifier] = Field(default_factory=list, max_length=100, description="Empty: every service.")
    minSubtotal: StrictInt = Field(default=0, ge=0, description="Minimum pre-discount subtotal.")
    priority: StrictInt = Field(default=100, ge=0, le=1_000_000, description="Lower applies first; ties by id.")
    stackable: StrictBool = Field(default=True, description="false: exclusive, combined with no other rule.")
    maxDiscount: StrictInt | None = Field(default=None, gt=0, description="Cap for this rule's discount.")
    globalLimit: StrictInt | None = Field(default=None, ge=1)
    perCustomerLimit: StrictInt | None = Field(default=None, ge=1)
    active: StrictBool = True


class PromoRuleUpdateIn(PromoRuleIn):
    reason: AuditReason = None


class PromoRuleOut(Schema):
    id: str
    code: str | None
    kind: str
    value: int
    description: str
    currency: str
    validFrom: str | None
    validTo: str | None
    serviceIds: list[str]
    minSubtotal: int
    priority: int
    stackable: bool
    maxDiscount: int | None
    globalLimit: int | None
    perCustomerLimit: int | None
    active: bool
    version: int


class PromoRuleListQuery(Strict):
    cursor: Cursor | None = Field(default=None, description="nextCursor of the previous page.")
    limit: int = Field(default=50, ge=1, le=200)


class PromoRuleListOut(Schema):
    items: list[PromoRuleOut]
    nextCursor: str | None = None


class DeactivateQuery(Strict):
    reason: AuditReason = None
