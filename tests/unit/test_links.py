"""Signed e-mail links: scoped to one request and one purpose, expire at the appointment start."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import links

SECRET = "unit-link-secret-0123456789"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
START = NOW + timedelta(days=2)


def test_round_trip_returns_the_request_id():
    token = links.sign(SECRET, "sr_x", links.CANCEL, START)
    assert links.verify(SECRET, token, links.CANCEL, NOW) == "sr_x"


def test_token_is_url_safe():
    token = links.sign(SECRET, "sr_x", links.ICS, START)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_wrong_purpose_is_rejected():
    token = links.sign(SECRET, "sr_x", links.ICS, START)
    assert links.verify(SECRET, token, links.CANCEL, NOW) is None


def test_expired_at_the_appointment_start():
    token = links.sign(SECRET, "sr_x", links.CANCEL, START)
    assert links.verify(SECRET, token, links.CANCEL, START - timedelta(seconds=1)) == "sr_x"
    assert links.verify(SECRET, token, links.CANCEL, START) is None
    assert links.verify(SECRET, token, links.CANCEL, START + timedelta(days=1)) is None


def test_other_secret_is_rejected():
    token = links.sign(SECRET, "sr_x", links.CANCEL, START)
    assert links.verify("another-secret", token, links.CANCEL, NOW) is None


def _swap_payload(token: str, new_payload: str) -> str:
    _, mac = token.split(".")
    encoded = base64.urlsafe_b64encode(new_payload.encode()).rstrip(b"=").decode()
    return f"{encoded}.{mac}"


def test_payload_rewritten_to_another_request_is_rejected():
    token = links.sign(SECRET, "sr_x", links.CANCEL, START)
    forged = _swap_payload(token, f"v1|sr_y|cancel|{int(START.timestamp())}")
    assert links.verify(SECRET, forged, links.CANCEL, NOW) is None


def test_extended_expiry_is_rejected():
    token = links.sign(SECRET, "sr_x", links.CANCEL, START)
    forged = _swap_payload(token, f"v1|sr_x|cancel|{int(START.timestamp()) + 86400}")
    assert links.verify(SECRET, forged, links.CANCEL, START + timedelta(hours=1)) is None


@pytest.mark.parametrize("flip_at", [0, 5, -3, -1])
def test_any_flipped_character_is_rejected(flip_at):
    token = links.sign(SECRET, "sr_x", links.CANCEL, START)
    chars = list(token)
    chars[flip_at] = "A" if chars[flip_at] != "A" else "B"
    assert links.verify(SECRET, "".join(chars), links.CANCEL, NOW) is None


@pytest.mark.parametrize("garbage", ["", ".", "abc", "a.b.c", "!!!.???", "x" * 600, "YWJj.", ".YWJj"])
def test_malformed_tokens_are_rejected(garbage):
    assert links.verify(SECRET, garbage, links.CANCEL, NOW) is None


def test_unknown_purpose_cannot_be_signed():
    with pytest.raises(ValueError):
        links.sign(SECRET, "sr_x", "refund", START)
