"""Service areas: which teams can send a crew to a customer's postal code. Pure Python.

An area belongs to one team and lists, for one country (ISO 3166-1 alpha-2), exact codes and prefixes:
- a prefix matches every normalised code starting with it (US `100` covers 10001-10099);
- an exact code matches that code, and in Great Britain a postcode district too: `E1` covers `E1 6AN` and the
  sub-district `E1W 1AA` (a district followed by one letter), but not `E14 5AB`, which is another district.
Areas may overlap: every team whose area covers a location is a candidate.

Input is normalised before matching (upper case, spaces dropped; US ZIP+4 keeps its 5-digit ZIP) and refused
when it cannot be a postal code of its country.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from chalicelib.domain.errors import ValidationFailed

_US = re.compile(r"^(\d{5})(?:-?\d{4})?$")
_GB_FULL = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})$")
_GB_OUTWARD = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")
_OTHER = re.compile(r"^[A-Z\d]{2,10}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_INPUT_LENGTH = 16


@dataclass(frozen=True)
class ServiceArea:
    country: str  # ISO 3166-1 alpha-2, upper case
    codes: tuple[str, ...] = ()  # normalised exact codes (GB: postcodes or districts)
    prefixes: tuple[str, ...] = ()  # normalised code prefixes

    def covers(self, location: "Location") -> bool:
        if location.country != self.country:
            return False
        code = location.postal_code
        if any(code.startswith(p) for p in self.prefixes):
            return True
        if code in self.codes:
            return True
        return self.country == "GB" and any(_in_district(location.district, c) for c in self.codes)


@dataclass(frozen=True)
class Location:
    postal_code: str  # normalised
    country: str

    @property
    def district(self) -> str:
        """GB: the outward code (the postcode without its last three characters); elsewhere the code itself."""
        if self.country == "GB":
            full = _GB_FULL.match(self.postal_code)
            return full.group(1) if full else self.postal_code
        return self.postal_code

    def to_dict(self) -> dict:
        return {"postalCode": self.postal_code, "country": self.country}


def _in_district(outward: str, district: str) -> bool:
    return outward == district or (outward[:-1] == district and outward[-1].isalpha() and district[-1].isdigit())


def normalise(postal_code: str, country: str) -> Location:
    """The canonical form of a customer's postal code. Raises ValidationFailed when it cannot be one."""
    country = (country or "").strip().upper()
    if not _COUNTRY.match(country):
        raise _invalid("country", "an ISO 3166-1 alpha-2 country code")
    raw = postal_code if isinstance(postal_code, str) else ""
    if not raw.strip() or len(raw) > MAX_INPUT_LENGTH:
        raise _invalid("postalCode", f"a postal code of at most {MAX_INPUT_LENGTH} characters")
    code = re.sub(r"\s+", "", raw).upper()
    if country == "US":
        match = _US.match(code)
        if not match:
            raise _invalid("postalCode", "a US ZIP code (12345 or 12345-6789)")
        return Location(match.group(1), country)
    if country == "GB":
        if not (_GB_FULL.match(code) or _GB_OUTWARD.match(code)):
            raise _invalid("postalCode", "a UK postcode (e.g. SW1A 1AA) or postcode district (e.g. SW1A)")
        return Location(code, country)
    code = code.replace("-", "")
    if not _OTHER.match(code):
        raise _invalid("postalCode", "2 to 10 letters or digits")
    return Location(code, country)


def area(country: str, codes: Iterable[str] = (), prefixes: Iterable[str] = ()) -> ServiceArea:
    """An area as an admin or the seed writes it: codes and prefixes normalised like customer input (a prefix
    is only upper-cased and stripped: it need not be a whole code). Raises ValidationFailed."""
    country = (country or "").strip().upper()
    if not _COUNTRY.match(country):
        raise _invalid("country", "an ISO 3166-1 alpha-2 country code")
    exact = tuple(sorted({normalise(c, country).postal_code for c in codes}))
    starts = tuple(sorted({re.sub(r"[\s-]+", "", p).upper() for p in prefixes}))
    if any(not p or not p.isalnum() for p in starts):
        raise _invalid("prefixes", "letters or digits")
    return ServiceArea(country=country, codes=exact, prefixes=starts)


def default_country(areas: Iterable[ServiceArea]) -> str | None:
    """The one country every area is in (the default when a customer gives none), or None if there are several."""
    countries = {a.country for a in areas}
    return countries.pop() if len(countries) == 1 else None


def _invalid(field: str, expected: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {field}.", {"fields": [{"field": field, "expected": expected}]})
