"""API errors as Stripe reports them, and the two every part of the API raises (missing object, missing param)."""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Rendered as Stripe's error envelope `{"error": {"type", "message", "code", "param"}}`."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message, "code": self.code}
        if self.param:
            error["param"] = self.param
        return {"error": error}


def missing(kind: str, ident: str, param: str | None = None) -> ApiError:
    """No object of this kind with this id (404 resource_missing)."""
    return ApiError(404, f"No such {kind}: '{ident}'", code="resource_missing", param=param)


def missing_param(name: str, param: str) -> ApiError:
    """A required parameter was not sent (400 parameter_missing)."""
    return ApiError(400, f"Missing required param: {name}.", code="parameter_missing", param=param)
