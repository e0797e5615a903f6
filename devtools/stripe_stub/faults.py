"""Failures and delays that tests switch on, to exercise the app's retries, timeouts and reconciliation."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from devtools.stripe_stub.errors import ApiError


@dataclass
class Faults:
    """Fault injection for /v1 requests (and webhook deliveries). Reset with POST /_stub/faults {}."""
    fail_next: int = 0  # the next N requests fail with fail_status
    fail_probability: float = 0.0  # each request fails with this probability (seeded RNG)
    fail_status: int = 500
    # "before": the request is not executed (a front-end failure); "after": it IS executed, then the response
    # is lost (what makes client retries with the same Idempotency-Key necessary).
    fail_mode: str = "before"
    delay_seconds: float = 0.0  # sleep before handling, to provoke client read timeouts
    delay_next: int = 0  # how many requests get the delay; -1 = all
    path_prefix: str = "/v1/"  # only requests whose path starts with this are affected
    webhook_drop_next: int = 0  # the next N deliveries are recorded as failed without being sent
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Faults:
        """Settings from a /_stub/faults body; anything not given keeps its default."""
        faults = cls()
        for name, value in spec.items():
            if name not in FAULT_FIELDS:
                raise ApiError(400, f"Unknown fault setting: {name}", param=name)
            setattr(faults, name, FAULT_FIELDS[name](value))
        if faults.fail_mode not in ("before", "after"):
            raise ApiError(400, "fail_mode is 'before' or 'after'", param="fail_mode")
        faults.rng = random.Random(faults.seed)
        return faults

    def public(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FAULT_FIELDS}

    def take(self, path: str) -> tuple[float, int | None]:
        """(delay seconds, failure status or None) for one API request; consumes the counters.

        Not thread-safe: the caller holds the account lock."""
        if not path.startswith(self.path_prefix):
            return 0.0, None
        delay = 0.0
        if self.delay_seconds and self.delay_next:
            delay = self.delay_seconds
            if self.delay_next > 0:
                self.delay_next -= 1
        status = None
        if self.fail_next > 0:
            self.fail_next -= 1
            status = self.fail_status
        elif self.fail_probability and self.rng.random() < self.fail_probability:
            status = self.fail_status
        return delay, status

    def take_webhook_drop(self) -> bool:
        """Whether to drop the next webhook delivery; consumes the counter (caller holds the account lock)."""
        if self.webhook_drop_next <= 0:
            return False
        self.webhook_drop_next -= 1
        return True


# The settable fields and how a JSON value is converted; also the order of the public view.
FAULT_FIELDS = {"fail_next": int, "fail_probability": float, "fail_status": int, "fail_mode": str,
                "delay_seconds": float, "delay_next": int, "path_prefix": str, "webhook_drop_next": int,
                "seed": int}
