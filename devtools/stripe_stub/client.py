"""Controlling a running stub over HTTP from tests, e2e and benchmarks (stdlib only)."""
from __future__ import annotations

import json
import urllib.request
from typing import Any


class StubClient:
    """Calls the /_stub controls of the stub at base_url (the same actions as the hosted page, as JSON)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: dict | None = None) -> Any:
        data = json.dumps(payload).encode("utf-8") if payload is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def reset(self, **config: Any) -> None:
        self._call("POST", "/_stub/reset", config)

    def configure(self, **config: Any) -> dict:
        return self._call("POST", "/_stub/config", config)

    def faults(self, **spec: Any) -> dict:
        """Replace the fault settings (no arguments: clear them). See faults.Faults for the fields."""
        return self._call("POST", "/_stub/faults", spec)

    def clock(self, offset_seconds: int | None = None, advance_seconds: int = 0) -> dict:
        body: dict[str, Any] = {"advance_seconds": advance_seconds}
        if offset_seconds is not None:
            body["offset_seconds"] = offset_seconds
        return self._call("POST", "/_stub/clock", body)

    def expire(self, session_id: str | None = None, deliver: bool = True) -> dict:
        return self._call("POST", "/_stub/expire", {"session_id": session_id, "deliver": deliver})

    def pay(self, session_id: str, outcome: str = "paid", deliver: bool = True) -> dict:
        return self._call("POST", f"/_stub/sessions/{session_id}/pay", {"outcome": outcome, "deliver": deliver})

    def settle(self, session_id: str, result: str = "succeeded", deliver: bool = True) -> dict:
        return self._call("POST", f"/_stub/sessions/{session_id}/settle", {"result": result, "deliver": deliver})

    def refund(self, session_id: str, amount: int | None = None, deliver: bool = True) -> dict:
        return self._call("POST", f"/_stub/sessions/{session_id}/refund", {"amount": amount, "deliver": deliver})

    def dispute(self, session_id: str, deliver: bool = True) -> dict:
        """Opens a dispute on the session's charge; the answer's `object` is the Dispute."""
        return self._call("POST", f"/_stub/sessions/{session_id}/dispute", {"deliver": deliver})

    def close_dispute(self, dispute_id: str, outcome: str, deliver: bool = True) -> dict:
        return self._call("POST", f"/_stub/disputes/{dispute_id}/close", {"outcome": outcome, "deliver": deliver})

    def deliveries(self, event_id: str | None = None) -> list[dict]:
        query = f"?event_id={event_id}" if event_id else ""
        return self._call("GET", "/_stub/deliveries" + query)["data"]

    def redeliver(self, event_id: str | None = None) -> list[dict]:
        return self._call("POST", "/_stub/redeliver", {"event_id": event_id} if event_id else {})["deliveries"]

    def flush(self) -> None:
        self._call("POST", "/_stub/flush", {})

    def stats(self) -> dict:
        return self._call("GET", "/_stub/stats")
