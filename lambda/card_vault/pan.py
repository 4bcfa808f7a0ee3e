"""Card-number rules: Luhn, brand ranges, masking and finding card numbers in free text.

A PAN (primary account number) is 13-19 digits passing the Luhn check (ISO/IEC 7812-1).
`find_pans` / `mask_pans` are the last line of defence for logs, exceptions and error
responses (PCI DSS v4.0.1 3.3, 3.4.1, 3.5.1): any Luhn-valid run of 13-19 digits, with or
without single spaces or dashes between digits, is replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_PAN_DIGITS = 13
MAX_PAN_DIGITS = 19
MASK = "*"

# A run of digits where single spaces or dashes may separate digits: "4111 1111-1111 1111".
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")


def luhn_valid(digits: str) -> bool:
    """True when `digits` (ASCII digits only) passes the Luhn mod-10 check."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class BrandRange:
    brand: str
    prefix_low: int
    prefix_high: int
    prefix_digits: int
    lengths: frozenset[int]


def _r(brand: str, low: int, high: int, *lengths: int) -> BrandRange:
    return BrandRange(brand, low, high, len(str(low)), frozenset(lengths))


# Issuer identification ranges of the networks' published BIN tables (the widely used subset).
# Ordered most specific first: the first match wins.
BRAND_RANGES: tuple[BrandRange, ...] = (
    _r("discover", 622126, 622925, 16, 17, 18, 19),
    _r("mastercard", 222100, 272099, 16),
    _r("jcb", 3528, 3589, 16, 17, 18, 19),
    _r("discover", 6011, 6011, 16, 17, 18, 19),
    _r("discover", 644, 649, 16, 17, 18, 19),
    _r("diners", 300, 305, 14, 15, 16, 17, 18, 19),
    _r("amex", 34, 34, 15),
    _r("amex", 37, 37, 15),
    _r("diners", 36, 36, 14, 15, 16, 17, 18, 19),
    _r("diners", 38, 39, 14, 15, 16, 17, 18, 19),
    _r("mastercard", 51, 55, 16),
    _r("discover", 65, 65, 16, 17, 18, 19),
    _r("unionpay", 62, 62, 16, 17, 18, 19),
    _r("visa", 4, 4, 13, 16, 19),
)


def brand_of(pan: str) -> str | None:
    """The card brand whose issuer range and length match `pan` (digits only), or None."""
    for entry in BRAND_RANGES:
        if len(pan) in entry.lengths and entry.prefix_low <= int(pan[: entry.prefix_digits]) <= entry.prefix_high:
            return entry.brand
    return None


def masked_view(pan: str) -> tuple[str, str]:
    """(first six, last four): the most PCI DSS 3.4.1 lets a display show."""
    return pan[:6], pan[-4:]


def _contains_pan(digits: str) -> bool:
    """Any 13-19 digit window of `digits` that passes Luhn (a longer run may embed a PAN)."""
    count = len(digits)
    for length in range(MIN_PAN_DIGITS, min(MAX_PAN_DIGITS, count) + 1):
        for start in range(count - length + 1):
            if luhn_valid(digits[start : start + length]):
                return True
    return False


def find_pans(text: str) -> list[str]:
    """The digit runs in `text` that contain a Luhn-valid 13-19 digit card number."""
    found = []
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if len(digits) >= MIN_PAN_DIGITS and _contains_pan(digits):
            found.append(match.group())
    return found


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    digits = re.sub(r"[ -]", "", run)
    if len(digits) < MIN_PAN_DIGITS or not _contains_pan(digits):
        return run
    # Keep nothing: the masked form of a number found by accident is never needed.
    return f"[PAN masked: {len(digits)} digits]"


def mask_pans(text: str) -> str:
    """`text` with every digit run that contains a Luhn-valid card number replaced by a marker."""
    if len(text) < MIN_PAN_DIGITS:
        return text
    return _DIGIT_RUN.sub(_mask_run, text)
