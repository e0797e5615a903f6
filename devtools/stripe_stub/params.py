"""Request parameters as the stripe SDK sends them: form decoding, value validation and list pagination.

Validation failures raise ApiError with Stripe's `param` naming (`line_items[0][quantity]`), which is what the
gateway relies on.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Callable
from urllib.parse import parse_qsl

from devtools.stripe_stub.errors import ApiError, missing, missing_param

# The SDK's encoding: a[b][0][c]=v, booleans as "true"/"false".
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def decode_params(raw: str) -> dict[str, Any]:
    """Form/query string -> nested dicts; dicts whose keys are all indexes become lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = _KEY.match(key)
        if not match:
            raise ApiError(400, f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
        parts = [match.group(1), *_PART.findall(match.group(2))]
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ApiError(400, f"Invalid parameter: {key}", param=key)
            node = child
        last = parts[-1] if parts[-1] != "" else str(len(node))  # `x[]=a&x[]=b` appends
        node[last] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def int_param(params: dict, name: str, *, minimum: int | None = None, maximum: int | None = None,
              default: int | None = None, label: str | None = None) -> int | None:
    raw = params.get(name)
    label = label or name
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=label)
    if minimum is not None and value < minimum:
        raise ApiError(400, f"This value must be greater than or equal to {minimum}.",
                       code="parameter_invalid_integer", param=label)
    if maximum is not None and value > maximum:
        raise ApiError(400, f"This value must be less than or equal to {maximum}.",
                       code="parameter_invalid_integer", param=label)
    return value


def str_param(params: dict, name: str, *, required: bool = False, max_length: int = 5000,
              label: str | None = None) -> str | None:
    raw = params.get(name)
    label = label or name
    if raw is None:
        if required:
            raise missing_param(label, label)
        return None
    if not isinstance(raw, str):
        raise ApiError(400, f"Invalid string: {label}", code="parameter_invalid_string", param=label)
    if len(raw) > max_length:
        raise ApiError(400, f"{label} must be at most {max_length} characters.", code="parameter_invalid_string",
                       param=label)
    return raw


def metadata_param(params: dict, name: str) -> dict[str, str]:
    raw = params.get(name)
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param=name)
    if len(raw) > 50:
        raise ApiError(400, "Metadata can have at most 50 keys.", param=name)
    for key, value in raw.items():
        if len(key) > 40 or not isinstance(value, str) or len(value) > 500:
            raise ApiError(400, "Metadata keys are at most 40 and values at most 500 characters.",
                           param=f"{name}[{key}]")
    return dict(raw)


def currency_param(raw: Any, param: str) -> str:
    if not isinstance(raw, str) or not re.fullmatch(r"[A-Za-z]{3}", raw):
        raise ApiError(400, f"Invalid currency: {raw}", code="parameter_invalid_string", param=param)
    return raw.lower()  # Stripe stores and returns lowercase ISO codes


def created_filter(params: dict) -> Callable[[int], bool]:
    """The `created` parameter (exact, or any of gt/gte/lt/lte) as a predicate on a timestamp."""
    raw = params.get("created")
    if raw is None:
        return lambda created: True
    if isinstance(raw, str):
        exact = int_param(params, "created")
        return lambda created: created == exact
    if not isinstance(raw, dict) or not set(raw) <= {"gt", "gte", "lt", "lte"}:
        raise ApiError(400, "created accepts gt, gte, lt and lte.", param="created")
    bounds = {op: int_param(raw, op, label=f"created[{op}]") for op in raw}
    checks = {"gt": lambda c, v: c > v, "gte": lambda c, v: c >= v,
              "lt": lambda c, v: c < v, "lte": lambda c, v: c <= v}
    return lambda created: all(checks[op](created, value) for op, value in bounds.items())


def paginate(items: list[dict], params: dict, url: str, kind: str) -> dict:
    """Stripe's cursor pagination over items already in list order (newest first)."""
    limit = int_param(params, "limit", minimum=1, maximum=100, default=10)
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise ApiError(400, "You may only specify one of these parameters: ending_before, starting_after.")
    ids = [item["id"] for item in items]
    if after:
        if after not in ids:
            raise missing(kind, after, param="starting_after")
        rest = items[ids.index(after) + 1:]
        page, has_more = rest[:limit], len(rest) > limit
    elif before:
        if before not in ids:
            raise missing(kind, before, param="ending_before")
        head = items[:ids.index(before)]
        page, has_more = head[-limit:], len(head) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": copy.deepcopy(page), "has_more": has_more, "url": url}
