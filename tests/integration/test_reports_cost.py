"""The utilisation report's DynamoDB requests do not grow with bookings (bench/reports.py, `make bench`): a 30-day
report across a month boundary of a team of 10 is one Query per month partition, with 10 bookings or 500."""
from __future__ import annotations

from bench import reports


def test_a_30_day_report_costs_the_same_requests_with_10_or_500_bookings():
    counts = reports.request_counts((10, 500))
    assert counts[10]["booked"] == 10 and counts[500]["booked"] == 500  # the report saw every booking
    assert counts[10]["requests"] == counts[500]["requests"] == 2  # Dec and Jan partitions, one Query each
