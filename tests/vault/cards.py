"""Test card numbers: built from a brand prefix and a Luhn check digit, never hard-coded in bulk."""

from __future__ import annotations

import datetime as dt
import random

from card_vault.pan import luhn_valid


def check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return digit
    raise AssertionError("unreachable")


def card_number(prefix: str = "4", length: int = 16, rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + check_digit(body)


def future_expiry(years: int = 3) -> tuple[int, int]:
    today = dt.date.today()
    return today.month, today.year + years


def card_body(pan: str | None = None, **overrides: object) -> dict[str, object]:
    month, year = future_expiry()
    body: dict[str, object] = {
        "pan": pan or card_number(),
        "expiry_month": month,
        "expiry_year": year,
        "cardholder_name": "Ada Lovelace",
    }
    body.update(overrides)
    return body
