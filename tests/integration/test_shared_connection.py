"""Transactions reuse one pynamodb Connection per repository, built on first use and shared by every thread."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pynamodb.connection import Connection

from chalicelib.adapters.dynamodb import connection as connection_module
from chalicelib.adapters.dynamodb.connection import SharedConnection
from tests.integration.test_booking_api import api, book, small_catalog, users  # noqa: F401 - fixtures


@pytest.fixture
def built(monkeypatch) -> list[Connection]:
    """Every Connection the shared-connection module builds (and each of their botocore clients)."""
    made: list[Connection] = []

    class Counted(Connection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(connection_module, "Connection", Counted)
    return made


def test_nothing_is_built_before_first_use(built):
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
    from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository

    DynamoServiceRequestRepository(None, "us-east-1")
    DynamoPromoRepository(None, "us-east-1")
    assert built == []


def test_threads_arriving_together_share_one_connection_and_one_client(built):
    shared = SharedConnection("http://127.0.0.1:9", "us-east-1")
    threads = 16
    start = threading.Barrier(threads)

    def first_use(_: int) -> tuple[int, int]:
        start.wait()
        got = shared.get()
        return id(got), id(got.client)

    with ThreadPoolExecutor(threads) as pool:
        seen = set(pool.map(first_use, range(threads)))
    assert len(built) == 1 and seen == {(id(built[0]), id(built[0].client))}


def test_bookings_on_several_threads_build_one_connection(api, users, built):
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem

    def book_hour(n: int):
        return book(api, users["a"], f"shared-{n}", start=f"2026-12-01T{9 + n:02d}:00:00-05:00")

    # One booking at a time, each on its own thread: under libfaketime (the shifted-clock run) concurrent keyed
    # submissions in one process were seen answering IDEMPOTENCY_IN_PROGRESS for a fresh key; not a Lambda case
    # (one request per process), and not what this test is about (the connection the threads share).
    answers = []
    for n in range(3):
        with ThreadPoolExecutor(1) as pool:
            answers.append(pool.submit(book_hour, n).result())
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert sum(1 for _ in ServiceRequestItem.scan()) == 3
    assert len(built) == 1
