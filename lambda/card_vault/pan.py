"""Card-number rules: Luhn, brand ranges, masking and finding card numbers in free text.

A PAN (primary account number) is 13-19 digits passing the Luhn check (ISO/IEC 7812-1).
`find_pans` / `mask_pans` are the last line of defence for logs, traces, metrics, exceptions
and responses (PCI DSS v4.0.1 3.3, 3.4.1, 3.5.1). One normalizer decides what is a card number
in every outbound string: a run of digits of any script (ASCII, fullwidth, Arabic-Indic
and every other Unicode `Nd` digit, and the `No` characters with a digit value: superscript,
subscript, circled, parenthesized digits... `_OTHER_DIGITS`; each read as its ASCII value), where up to
`MAX_SEPARATOR_CHARS` separator characters may stand between two digits (any Unicode space or
tab, every C0 control character and DEL, zero-width characters, any dash, `.`, `_`, `/`, `\\`, `|`,
`#`, `!`, `$`, `%`, `&`, quotes, brackets, `@`, `^`, backtick, combining marks... see `_SEPARATOR`
and `_MORE_SEPARATORS`; and the encoded separators `%20`, `%2D`, `&nbsp;`, `&#45;`, `\\t`,
`\\u0009`... `_ENCODED_SEPARATOR`, each one separator whose own digits are not read as the
card's); the run is a card number when any 13-19 digit window of it passes Luhn. Such a run is
replaced whole. One shape is read differently: a plain decimal number (digits, one `.`, digits),
which is a timestamp or a measurement in traces and metrics, has each side checked on its own.

A second, looser reading catches groups written with `,`, `:` or `;` between them, or with four or
more spaces (red-team r19 F7): digit groups separated by up to 16 such characters form a card
number when consecutive groups of them have a card's grouping (every group but the last of one
length of 3-6, the last no longer: `4111,1111,1111,1111`, `4111:1111:1111:111`; or Amex's
and Diners' 4-6-5 / 4-6-4) and together hold 13-19 digits passing Luhn. Timestamps
(`23:04:45,123`: groups of 2, 2, 2, 3) and ordinary lists of numbers of mixed lengths are not read
so; a list of equal-length numbers that happens to pass Luhn is masked (a cheap false positive).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MIN_PAN_DIGITS = 13
MAX_PAN_DIGITS = 19
MASK = "*"

MAX_SEPARATOR_CHARS = 3
# What may stand between two digits of one card number: whitespace of any script (tabs and
# no-break spaces included), every dash (Unicode Pd), and the punctuation people write card
# numbers with. Not `,` or `:` -- they separate values in logs and timestamps. Every C0 control
# character and DEL too (task w19d, red team r19c M3: JSON writes them as escapes, and a backspace or
# vertical tab between digit groups must separate as a tab does).
_SEPARATOR = (
    r"[\s\x00-\x1f\x7f\u00a0\u00ad\u2000-\u200d\u2060\ufeff\u202f\u205f\u3000"  # spaces, zero-width characters
    r"\u2010-\u2015\u2212\ufe58\ufe63\uff0d"  # dashes and minus signs
    r"._/\\|\u30fb\uff0e\uff0f\uff3f*+~=-]"  # punctuation, ASCII and fullwidth
)
# Task w19b (finding 6): more punctuation people and encoders put between digit groups (`#`, `!`, `$`,
# `%`, `&`, quotes, brackets, `@`, `^`, backtick) and combining marks (Unicode Mn/Me blocks) also separate.
_MORE_SEPARATORS = (
    r"[#!$%&'\"()\[\]{}<>@^`"
    r"\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
# Encoded separators, read as one separator each (their own digits are not card digits): percent-encoded
# space, tab, no-break space, `-`, `.`, `/`, `+`, HTML's space, no-break space and dash entities, and the
# backslash escapes below.
_ENCODED_SEPARATOR = (
    r"(?:%(?:20|09|2[bBdDeEfF]|[aA]0|[cC]2%[aA]0)"
    r"|&(?:nbsp|ensp|emsp|thinsp|ndash|mdash|#(?:9|32|45|160|x0*(?:9|20|2[dD]|[aA]0)));"
    # JSON, C and Python escapes of a control character, space, no-break space or dash (`\t`, `\u0009`,
    # `\x0b`...; task w19d, red team r19c M3): text that quotes a JSON line, or a value a client wrote.
    r"|\\(?:[tnrbfv0]|u00(?:[01][0-9a-fA-F]|20|2[dDeEfF]|[aA]0|7[fF])|x(?:[01][0-9a-fA-F]|20|2[dD]|[aA]0)))"
)
_ENCODED = re.compile(_ENCODED_SEPARATOR)
# One separator: an encoded one first (so `%20` is not read as `%` and the digits 2 and 0), then a character.
_ANY_SEPARATOR = rf"(?:{_ENCODED_SEPARATOR}|{_SEPARATOR}|{_MORE_SEPARATORS})"
# A run of Unicode decimal digits (Python's `\d` is `Nd` for str patterns), separators allowed between digits.
# The Unicode `No` (other number) characters that have a digit value (`unicodedata.digit`) but are not
# decimal digits (`Nd`, which `\d` matches): superscripts, subscripts, Ethiopic, circled, parenthesized,
# "digit full stop", dingbat negative-circled, Kharoshthi, Rumi, Brahmi and "digit comma" digits.
# tests/vault/test_vault_attacks.py checks this list against every code point of the running Python.
_OTHER_DIGITS = (
    "\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c"
    "\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792"
    "\U00010a40-\U00010a43\U00010e60-\U00010e68\U00011052-\U0001105a\U0001f100-\U0001f10a"
)
_DIGIT = rf"[\d{_OTHER_DIGITS}]"
# A run of digits of any script, separators allowed between digits.
_DIGIT_RUN = re.compile(rf"{_DIGIT}(?:{_ANY_SEPARATOR}{{0,{MAX_SEPARATOR_CHARS}}}{_DIGIT})*")
# The looser reading: digit groups with up to 16 separators, `,`, `:` and `;` included, between them.
MAX_LOOSE_SEPARATOR_CHARS = 16
_LOOSE_RUN = re.compile(rf"{_DIGIT}+(?:(?:{_SEPARATOR}|[,:;]){{1,{MAX_LOOSE_SEPARATOR_CHARS}}}{_DIGIT}+)+")
_GROUP = re.compile(rf"{_DIGIT}+")
# Amex (4-6-5) and 14/15-digit Diners (4-6-4) as printed on the card.
_PRINTED_GROUPINGS = frozenset({(4, 6, 5), (4, 6, 4)})


def ascii_digits(text: str) -> str:
    """The digits of `text` as ASCII, every other character dropped ("\\uff14\\u00b9 \\u0661" -> "411")."""
    return "".join(str(unicodedata.digit(char)) for char in text if unicodedata.digit(char, None) is not None)


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


_DECIMAL = re.compile(r"\d+\.\d+")


def _run_is_pan(run: str) -> bool:
    """Whether a digit run (separators included) holds a card number.

    A decimal number (`1796166748.3064876`: digits, one dot, digits; timestamps and measurements
    in traces and metrics) is read as its two parts: each part is checked on its own.
    """
    # Both readings of an encoded separator (`%09`: a tab, or `%` and the digits 0 and 9): either may be the card's.
    for reading in {run, _ENCODED.sub(" ", run)}:
        parts = reading.split(".") if _DECIMAL.fullmatch(reading) else [reading]
        for part in parts:
            digits = ascii_digits(part)
            if len(digits) >= MIN_PAN_DIGITS and _contains_pan(digits):
                return True
    return False


def _card_grouping(lengths: list[int]) -> bool:
    """Whether digit groups of these lengths are written as a card number is (4-4-4-4, 4-4-4-3, 4-6-5...)."""
    if tuple(lengths) in _PRINTED_GROUPINGS:
        return True
    first = lengths[0]
    return 3 <= first <= 6 and all(n == first for n in lengths[:-1]) and lengths[-1] <= first


def _grouped_run_is_pan(run: str) -> bool:
    """Whether consecutive groups of a loose run have a card's grouping and 13-19 digits passing Luhn."""
    groups = [ascii_digits(g) for g in _GROUP.findall(run)]
    for start in range(len(groups)):
        total = len(groups[start])
        for end in range(start + 1, len(groups)):
            total += len(groups[end])
            if total > MAX_PAN_DIGITS:
                break
            chosen = groups[start : end + 1]
            if total >= MIN_PAN_DIGITS and _card_grouping([len(g) for g in chosen]) and luhn_valid("".join(chosen)):
                return True
    return False


def find_pans(text: str) -> list[str]:
    """The digit runs in `text` that contain a Luhn-valid 13-19 digit card number (either reading)."""
    found = [match.group() for match in _DIGIT_RUN.finditer(text) if _run_is_pan(match.group())]
    found.extend(match.group() for match in _LOOSE_RUN.finditer(text) if _grouped_run_is_pan(match.group()))
    return found


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    if not _run_is_pan(run):
        return run
    digits = ascii_digits(run)
    # Keep nothing: the masked form of a number found by accident is never needed.
    return f"[PAN masked: {len(digits)} digits]"


def _mask_grouped_run(match: re.Match[str]) -> str:
    run = match.group()
    if not _grouped_run_is_pan(run):
        return run
    return f"[PAN masked: {len(ascii_digits(run))} digits]"


def mask_pans(text: str) -> str:
    """`text` with every digit run that contains a Luhn-valid card number replaced by a marker."""
    if len(text) < MIN_PAN_DIGITS:
        return text
    return _LOOSE_RUN.sub(_mask_grouped_run, _DIGIT_RUN.sub(_mask_run, text))
