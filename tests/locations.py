"""Where the test catalogs' crews work and where test customers book from: booking needs a location, and only
teams whose service area covers it are considered."""
from __future__ import annotations

from chalicelib.domain.service_areas import area

TEST_AREAS = (area("US", prefixes=("100",)),)  # Manhattan ZIPs, like the demo's New York crew
AT_HOME = {"postalCode": "10001"}  # a customer inside TEST_AREAS
