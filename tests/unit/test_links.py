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



def _token_with_url_safe_characters() -> str:
    """A token whose base64url text contains '-' or '_' (so the standard-alphabet spelling differs)."""
    return next(t for i in range(200) if set("-_") & set(t := links.sign(SECRET, f"sr_{i}", links.CANCEL, START)))


def _other_spellings(token: str) -> dict[str, str]:
    payload, mac = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # A 32-byte MAC is 43 characters; the last carries 2 bits that must be zero. The next character up sets one,
    # and decodes (leniently) to the very same MAC.
    trailing_bit = f"{payload}.{mac[:-1]}{alphabet[alphabet.index(mac[-1]) + 1]}"
    return {"padded payload": f"{payload}==.{mac}", "padded mac": f"{payload}.{mac}=",
            "standard alphabet": token.replace("-", "+").replace("_", "/"), "trailing bit set": trailing_bit}


@pytest.mark.parametrize("spelling", ["padded payload", "padded mac", "standard alphabet", "trailing bit set"])
def test_a_token_has_exactly_one_valid_spelling(spelling):
    token = _token_with_url_safe_characters()
    other = _other_spellings(token)[spelling]
    assert other != token
    assert links.verify(SECRET, token, links.CANCEL, NOW) is not None
    assert links.verify(SECRET, other, links.CANCEL, NOW) is None


def test_the_trailing_bit_variant_really_decodes_to_the_same_mac():
    """Guards the test above: without the canonical check this spelling would verify."""
    token = _token_with_url_safe_characters()
    mac, variant_mac = token.split(".")[1], _other_spellings(token)["trailing bit set"].split(".")[1]
    assert base64.urlsafe_b64decode(mac + "=") == base64.urlsafe_b64decode(variant_mac + "=")
