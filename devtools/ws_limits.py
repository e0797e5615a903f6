"""API Gateway's websocket limits, enforced by the dev gateway (devtools/ws_gateway.py) so a client that works
locally survives AWS: a connection idle for 10 minutes is closed, every connection is closed at 2 hours, a frame
over 32 KB or a message over 128 KB closes the connection. Each is configurable (WS_IDLE_TIMEOUT_SECONDS,
WS_MAX_CONNECTION_SECONDS, WS_MAX_FRAME_BYTES, WS_MAX_MESSAGE_BYTES) so tests can shorten them.

Idle means no frame from the client: pushes from the server and protocol-level pings do not count, which is
why clients send the application heartbeat {"action":"ping"} (docs/realtime.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

GOING_AWAY = 1001  # what API Gateway closes idle and expired connections with
MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True)
class Limits:
    idle_seconds: float = 10 * 60
    max_connection_seconds: float = 2 * 60 * 60
    max_frame_bytes: int = 32 * 1024
    max_message_bytes: int = 128 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Limits":
        defaults = cls()

        def read(name: str, default: float, kind: type) -> float:
            value = env.get(name, "").strip()
            return kind(value) if value else default

        return cls(idle_seconds=read("WS_IDLE_TIMEOUT_SECONDS", defaults.idle_seconds, float),
                   max_connection_seconds=read("WS_MAX_CONNECTION_SECONDS", defaults.max_connection_seconds, float),
                   max_frame_bytes=int(read("WS_MAX_FRAME_BYTES", defaults.max_frame_bytes, int)),
                   max_message_bytes=int(read("WS_MAX_MESSAGE_BYTES", defaults.max_message_bytes, int)))

    def expiry_reason(self, connected_at_ms: int, last_active_ms: int, now_ms: int) -> str | None:
        """Why a connection must be closed now, or None."""
        if now_ms - connected_at_ms >= self.max_connection_seconds * 1000:
            return "Connection lifetime exceeded"
        if now_ms - last_active_ms >= self.idle_seconds * 1000:
            return "Idle timeout"
        return None

    @property
    def check_interval(self) -> float:
        """How often the gateway looks for expired connections: a small fraction of the shortest limit."""
        return max(0.05, min(1.0, self.idle_seconds / 20, self.max_connection_seconds / 20))


class FrameScanner:
    """Reads the client's raw websocket byte stream (RFC 6455 section 5.2) as it is spliced through, frame header
    by frame header, skipping payloads, and reports the first frame whose payload exceeds the limit. The
    websocket library checks whole messages only; API Gateway also limits each frame of a fragmented message."""

    def __init__(self, max_payload: int) -> None:
        self.max_payload = max_payload
        self._head = bytearray()
        self._skip = 0

    def feed(self, data: bytes) -> int | None:
        """The length of an oversized frame found in `data`, else None."""
        i = 0
        while i < len(data):
            if self._skip:
                step = min(self._skip, len(data) - i)
                self._skip -= step
                i += step
                continue
            self._head.append(data[i])
            i += 1
            if len(self._head) < 2:
                continue
            size, extended = self._head[1] & 0x7F, {126: 2, 127: 8}.get(self._head[1] & 0x7F, 0)
            if len(self._head) < 2 + extended:
                continue
            length = int.from_bytes(self._head[2:2 + extended], "big") if extended else size
            if length > self.max_payload:  # known before the mask and payload arrive
                return length
            if len(self._head) < 2 + extended + (4 if self._head[1] & 0x80 else 0):
                continue
            self._skip = length
            self._head.clear()
        return None


def close_frame(code: int, reason: str) -> bytes:
    """A server-to-client close frame (unmasked)."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes([0x88, len(payload)]) + payload
