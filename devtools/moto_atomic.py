"""moto server with requests applied one at a time, transactions that copy only the items they touch
(devtools/moto_transactions.py), queries that cost what they return (devtools/moto_query.py),
item values written into responses as they are (devtools/moto_responses.py), string values sized and compared directly
(devtools/moto_values.py) and stream iterators that do not pile up (devtools/moto_streams.py).

moto's TransactWriteItems applies items in turn and restores a copy of the tables on failure; two transactions
running at once in moto's threaded server can interleave and undo each other's writes. Real DynamoDB
transactions are atomic and isolated, so the local stack serialises request handling (connections stay
concurrent) to give the app the same guarantee. Only server errors are logged: an access-log line per request
cost about a tenth of the server's time under booking load, and 4xx answers (failed conditions) are normal.
Usage: python -m devtools.moto_atomic -H 127.0.0.1 -p PORT
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

from devtools import moto_query, moto_responses, moto_streams, moto_transactions, moto_values


class SerialApp:
    def __init__(self, app) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            # Consume the whole response inside the lock: the backend's work happens while iterating.
            return [b"".join(self._app(environ, start_response))]


class ErrorsOnlyRequestHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).startswith("5"):
            super().log_request(code, size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    moto_transactions.install()
    moto_query.install()
    moto_responses.install()
    moto_streams.install()
    moto_values.install()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerialApp(app), threaded=True, request_handler=ErrorsOnlyRequestHandler)


if __name__ == "__main__":
    main()
