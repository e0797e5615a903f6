"""Stripe's smallest card charge (domain/payment.py CARD_MINIMUM): 0 is nothing due, below the minimum is refused,
the minimum itself is fine, and an unlisted currency is left to Stripe."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import CardAmountTooSmall
from chalicelib.domain.payment import check_card_amount


@pytest.mark.parametrize("amount, currency", [(0, "USD"), (50, "USD"), (50, "usd"), (30, "GBP"), (1000, "MXN"),
                                              (1, "XTS")])
def test_amounts_a_card_can_be_charged_or_that_need_no_charge(amount, currency):
    check_card_amount(amount, currency)


@pytest.mark.parametrize("amount, currency, minimum", [(1, "USD", 50), (49, "eur", 50), (29, "GBP", 30),
                                                       (999, "MXN", 1000)])
def test_amounts_below_the_minimum_are_refused_with_what_it_is(amount, currency, minimum):
    with pytest.raises(CardAmountTooSmall) as refused:
        check_card_amount(amount, currency)
    assert refused.value.details == {"amount": amount, "currency": currency.upper(), "minimum": minimum}
