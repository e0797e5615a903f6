"""Idempotency-Key replay: the first successful result of a POST is saved and answered again for 24 hours."""
from __future__ import annotations

import threading
from typing import Callable

from devtools.stripe_stub.errors import ApiError

IDEMPOTENCY_KEY_TTL = 24 * 3600  # Stripe prunes keys after 24 hours


class IdempotencyKeys:
    """Saved results by key. Part of StripeStub (account.py), which owns the lock, the emulated clock and the
    `idempotency` / `key_locks` stores."""

    def run_once(self, key: str, fingerprint: tuple, request_id: str,
                 execute: Callable[[], dict]) -> tuple[int, dict, str | None]:
        """(status, body, id of the original request when replayed): execute() runs only if the key is new.

        fingerprint is (method, path, sorted parameters); the key's first use decides which request it belongs
        to. A failure (ApiError) is not saved, as Stripe does not save validation failures."""
        with self._key_lock(key):  # concurrent duplicates wait, then replay
            saved = self._saved_result(key, fingerprint)
            if saved is not None:
                return saved["status"], saved["body"], saved["request_id"]
            body = execute()
            self._save_result(key, fingerprint, 200, body, request_id)
            return 200, body, None

    def _key_lock(self, key: str) -> threading.Lock:
        with self.lock:
            return self.key_locks.setdefault(key, threading.Lock())

    def _saved_result(self, key: str, fingerprint: tuple) -> dict | None:
        """The saved result for key, None if unused; ApiError if it was used for a different request."""
        with self.lock:
            saved = self.idempotency.get(key)
            if saved is None or saved["created"] < self.now() - IDEMPOTENCY_KEY_TTL:
                return None
            if saved["fingerprint"][:2] != fingerprint[:2]:
                raise ApiError(400, "Keys for idempotent requests can only be used for the same endpoint they "
                                    "were first used for.", type_="idempotency_error")
            if saved["fingerprint"] != fingerprint:
                raise ApiError(400, "Keys for idempotent requests can only be used with the same parameters "
                                    f"they were first used with. Try using a key other than '{key}' if you "
                                    "meant to execute a different request.", type_="idempotency_error")
            return saved

    def _save_result(self, key: str, fingerprint: tuple, status: int, body: dict, request_id: str) -> None:
        with self.lock:
            self.idempotency[key] = {"fingerprint": fingerprint, "status": status, "body": body,
                                     "request_id": request_id, "created": self.now()}
