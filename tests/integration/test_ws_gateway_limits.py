"""The dev websocket gateway enforces API Gateway's limits (devtools/ws_limits.py): idle timeout, connection
lifetime, 32 KB frames, 128 KB messages. The gateway runs in-process with shortened limits and a stand-in for
the Lambda handlers that records what it was invoked with."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.sync.client import connect

from devtools.ws_gateway import Gateway
from devtools.ws_limits import FrameScanner, Limits

KB = 1024
WAIT = 10  # generous bound on how long a close may take on a loaded machine (not a speed assertion)


class Handlers:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, route_key: str, event: dict) -> dict:
        self.calls.append(route_key)
        return {"statusCode": 200}


@pytest.fixture
def gateway_with():
    """gateway_with(limits) -> (ws url, recorded handler calls); stopped after the test."""
    started = []

    def start(limits: Limits):
        handlers = Handlers()
        loop = asyncio.new_event_loop()
        gateway = Gateway(handlers, port=0, stage="api", limits=limits)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(gateway.start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(WAIT)
        started.append((loop, gateway))
        return f"ws://127.0.0.1:{gateway.port}/", handlers

    yield start
    for loop, gateway in started:
        asyncio.run_coroutine_threadsafe(gateway.close(), loop).result(WAIT)
        loop.call_soon_threadsafe(loop.stop)


def closed_with(ws) -> int:
    """Waits for the server to close the connection; its close code.

    Waits for the client's reader thread to end (is_alive() only tries the thread's lock, never waits on it)
    rather than calling recv(), whose blocking thread join raised "release unlocked lock" inside threading
    once under libfaketime (the shifted-clock CI run). Once the thread is known to have ended, close() on
    leaving the `with` block joins it without waiting."""
    wait_for(lambda: not ws.recv_events_thread.is_alive())
    assert ws.protocol.state is State.CLOSED
    return ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None


def wait_for(predicate) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


def test_an_idle_connection_is_closed_going_away_and_disconnect_runs(gateway_with):
    url, handlers = gateway_with(Limits(idle_seconds=0.5))
    with connect(url) as ws:
        assert closed_with(ws) == 1001
    wait_for(lambda: "$disconnect" in handlers.calls)


def test_client_frames_keep_a_connection_open_past_the_idle_timeout(gateway_with):
    url, handlers = gateway_with(Limits(idle_seconds=1.0))
    with connect(url) as ws:
        for _ in range(15):  # 1.5 s of heartbeats, each well inside the idle timeout
            ws.send('{"action":"ping"}')
            time.sleep(0.1)
        assert handlers.calls.count("$default") == 15 and "$disconnect" not in handlers.calls


def test_every_connection_is_closed_at_its_maximum_lifetime_even_when_active(gateway_with):
    url, handlers = gateway_with(Limits(idle_seconds=60, max_connection_seconds=0.8))
    with connect(url) as ws:
        deadline = time.monotonic() + WAIT
        try:
            while ws.recv_events_thread.is_alive() and time.monotonic() < deadline:
                ws.send('{"action":"ping"}')
                time.sleep(0.05)
        except ConnectionClosed:
            pass  # the close arrived between the check and the send
        assert closed_with(ws) == 1001


def test_a_frame_over_32_kb_closes_the_connection_as_too_big(gateway_with):
    url, handlers = gateway_with(Limits())
    with connect(url, max_size=None) as ws:
        ws.send("x" * (32 * KB))  # exactly the limit: delivered
        wait_for(lambda: handlers.calls.count("$default") == 1)
        ws.send("x" * (32 * KB + 1))
        assert closed_with(ws) == 1009
    wait_for(lambda: "$disconnect" in handlers.calls)
    assert handlers.calls.count("$default") == 1


def test_a_message_is_limited_to_128_kb_across_its_32_kb_frames(gateway_with):
    url, handlers = gateway_with(Limits())
    with connect(url, max_size=None) as ws:
        ws.send(["x" * (32 * KB)] * 4)  # 128 KB in four frames: delivered
        wait_for(lambda: handlers.calls.count("$default") == 1)
        try:
            ws.send(["x" * (32 * KB)] * 4 + ["x"])
        except ConnectionClosed:
            pass  # on a slow machine the gateway's close can arrive while the last frame is still being sent
        assert closed_with(ws) == 1009
    assert handlers.calls.count("$default") == 1


def test_the_frame_scanner_reads_headers_split_across_chunks():
    scanner = FrameScanner(max_payload=200)
    small = bytes([0x81, 0x80 | 5]) + b"mask" + b"hello"
    big = bytes([0x81, 0x80 | 126]) + (300).to_bytes(2, "big") + b"mask"
    stream = small + big
    found = [scanner.feed(stream[i:i + 1]) for i in range(len(stream))]
    # the small frame passes; the big one is reported once its length is read, before its mask and payload
    assert found[:len(small) + 3] == [None] * (len(small) + 3) and found[len(small) + 3] == 300
    assert FrameScanner(10).feed(bytes([0x82, 0x80 | 127]) + (2 ** 40).to_bytes(8, "big")) == 2 ** 40


def test_limits_come_from_the_environment_with_api_gateways_defaults():
    assert Limits.from_env({}) == Limits(600, 7200, 32 * KB, 128 * KB)
    assert Limits.from_env({"WS_IDLE_TIMEOUT_SECONDS": "2", "WS_MAX_FRAME_BYTES": "100"}) == Limits(2, 7200, 100,
                                                                                                       128 * KB)
