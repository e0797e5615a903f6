"""Signed links for e-mails: one request, one purpose, valid until the appointment starts.

Token = base64url(payload) "." base64url(HMAC-SHA256(secret, payload)), payload = "v1|<request id>|<purpose>|<expiry
epoch seconds>", unpadded; a token has exactly one valid spelling. (A percent-encoded character in the URL, such
as `%2D` for `-`, is not another spelling: RFC 3986 section 2.3 makes it the same URI, and API Gateway and the
local server decode the path before the app sees it.) Verification answers only "which request" or None: callers
turn None into a plain 404, so a tampered, expired or wrong-purpose token reveals nothing about why it failed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime

VERSION = "v1"
ICS = "ics"
CANCEL = "cancel"
RESCHEDULE = "reschedule"
PURPOSES = frozenset({ICS, CANCEL, RESCHEDULE})
MAX_TOKEN_LENGTH = 512


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Decode unpadded base64url, accepting only the one spelling `_b64` produces: padding, characters outside
    the alphabet and non-zero trailing bits all decode to the same bytes elsewhere, so they are refused here."""
    decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(decoded) != text:
        raise ValueError("not the canonical encoding")
    return decoded


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).digest()


def sign(secret: str, request_id: str, purpose: str, expires_at: datetime) -> str:
    """A token for `purpose` on `request_id`, valid while now < expires_at (aware datetime)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    if "|" in request_id:
        raise ValueError("request ids never contain '|'")
    payload = f"{VERSION}|{request_id}|{purpose}|{int(expires_at.timestamp())}".encode("utf-8")
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify(secret: str, token: str, purpose: str, now: datetime) -> str | None:
    """The request id the token was issued for, or None if it is malformed, tampered, for another purpose or
    expired. The MAC is compared in constant time before any field of the payload is trusted."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    encoded_payload, encoded_mac = token.split(".")
    try:
        payload = _unb64(encoded_payload)
        mac = _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        version, request_id, token_purpose, expiry = payload.decode("utf-8").split("|")
        expires_at = int(expiry)
    except ValueError:
        return None
    if version != VERSION or token_purpose != purpose or not request_id:
        return None
    if now.timestamp() >= expires_at:
        return None
    return request_id
