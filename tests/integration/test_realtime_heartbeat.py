"""The websocket heartbeat: {"action":"ping"} is answered {"type":"pong"} on the same connection, and costs no
DynamoDB request (clients send it every few minutes on every connection, to stay under API Gateway's 10-minute
idle timeout)."""
from __future__ import annotations

import json

from tests.integration.test_realtime_handlers import connect, message, stack  # noqa: F401 - the fixture


class UntouchableStore:
    """A realtime store that fails the test on any use."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"the heartbeat used the realtime store ({name})")
        return call


def test_ping_is_answered_pong_without_touching_the_store(stack):  # noqa: F811
    connect(stack, "conn-hb")
    untouchable = UntouchableStore()
    stack["deps"].override(realtime_store=untouchable)
    message(stack, "conn-hb", {"action": "ping"})
    message(stack, "conn-hb", '{"action":"ping"}')
    assert stack["api"].of_type("conn-hb", "pong") == [{"type": "pong"}, {"type": "pong"}]
    assert untouchable.calls == []


def test_a_ping_with_extra_fields_is_an_error_frame_and_the_connection_stays(stack):  # noqa: F811
    connect(stack, "conn-hb2")
    message(stack, "conn-hb2", {"action": "ping", "payload": "x" * 10})
    errors = stack["api"].of_type("conn-hb2", "error")
    assert [e["error"]["code"] for e in errors] == ["VALIDATION_ERROR"]
    message(stack, "conn-hb2", json.dumps({"action": "ping"}))
    assert stack["api"].of_type("conn-hb2", "pong") == [{"type": "pong"}]
