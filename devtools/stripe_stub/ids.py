"""Stripe-style object ids: a type prefix (`cs_test_`, `pi_`, `evt_`...) and random letters and digits."""
from __future__ import annotations

import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))
