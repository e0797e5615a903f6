"""One pynamodb Connection per repository for its transactions, shared by every thread of the process.

A new `Connection` per transaction builds a botocore session and client each time (several ms of CPU, a
measurable share of a local booking) and opens a new HTTP connection. botocore clients are thread-safe and
pynamodb keeps only the session per thread, so one client serves every thread (`chalice local` serves each
request on its own thread). It is built on first use, never at import or construction.
"""
from __future__ import annotations

import threading

from pynamodb.connection import Connection


class SharedConnection:
    def __init__(self, endpoint: str | None, region: str) -> None:
        self._endpoint = endpoint
        self._region = region
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def get(self) -> Connection:
        connection = self._connection
        if connection is None:
            with self._lock:  # threads arriving together build one client, not one each
                if self._connection is None:
                    built = Connection(host=self._endpoint, region=self._region)
                    built.client  # noqa: B018 - build the botocore client now, under the lock
                    self._connection = built
                connection = self._connection
        return connection
