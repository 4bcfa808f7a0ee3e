"""Request and response shapes of the vault (pydantic v2, strict, unknown fields rejected).

Validation errors are reported as `[{"field": ..., "reason": ...}]` built from the error's
location and message only: pydantic's `input` (which may hold a card number) is never echoed
(PCI DSS v4.0.1 3.3, 3.4.1, 6.2.4).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any, Literal, get_args

import nh3
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from card_vault.pan import MAX_PAN_DIGITS, MIN_PAN_DIGITS, brand_of, luhn_valid

MAX_NAME_CHARS = 26  # ISO/IEC 7813 track 1 name field, what card printers emboss
MIN_NAME_CHARS = 2
MAX_EXPIRY_YEARS_AHEAD = 20
TOKEN_PATTERN = r"^tok_[A-Za-z0-9_-]{32}$"  # noqa: S105 -- a format, not a credential

# Sensitive authentication data (PCI DSS 3.3.1): never accepted, whatever the spelling.
_SAD_FIELD = re.compile(
    r"^(cvv2?|cvc2?|cav2|cid|csc|cvn|cvd|security_?code|card_?verification\w*|pin|pin_?block|pvv|"
    r"track(_?[12])?(_?data)?|magstripe|mag_?stripe\w*|chip_?data|icc_?data|emv\w*)$"
)
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ '.-][^\W\d_]*)*$")


class SensitiveAuthenticationDataError(ValueError):
    """A request carried a CVV/CVC/PIN/track-data field (refused with 422, never stored)."""


def is_sad_field(name: str) -> bool:
    """True for a field name that denotes sensitive authentication data (PCI DSS 3.3.1.1-3.3.1.3)."""
    return bool(_SAD_FIELD.match(name.strip().lower().replace("-", "_")))


def refuse_sad_fields(body: object) -> None:
    """Raise SensitiveAuthenticationDataError when any key at any depth of `body` is a SAD field."""
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and is_sad_field(key):
                    raise SensitiveAuthenticationDataError(
                        "sensitive authentication data (CVV/CVC/PIN/track data) is never accepted"
                    )
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


# Text holding none of these is returned by nh3 as it is (HTML's tokenizer treats only `<`, `&` and NUL
# in text, its input stream turns CR into LF, the serializer escapes `<`, `>`, `&` and no-break space;
# tests/vault/test_vault_validation.py checks the equality with hypothesis), so it skips nh3: about a
# third of a tokenization's own CPU went to building nh3's cleaner for every cardholder name (issue 19).
_NH3_UNCHANGED = re.compile(r"[^<>&\x00\r\u00a0\ud800-\udfff]*")


def clean_text(value: str) -> str:
    """Free text after nh3 (HTML stripped) and Unicode NFC; raises ValueError when markup was present."""
    normalized = unicodedata.normalize("NFC", value).strip()
    if _NH3_UNCHANGED.fullmatch(normalized):
        return normalized
    if nh3.clean(normalized, tags=set()) != normalized.replace("&", "&amp;"):
        raise ValueError("markup is not allowed")
    return normalized


def valid_name(value: str) -> str:
    """A cardholder name after `clean_text`, 2-26 letters with single separators; raises ValueError."""
    cleaned = clean_text(value)
    if not MIN_NAME_CHARS <= len(cleaned) <= MAX_NAME_CHARS:
        raise ValueError(f"must be {MIN_NAME_CHARS}-{MAX_NAME_CHARS} characters")
    # `\w` also matches Unicode numbers that are not decimal digits (category No: superscript, circled digits;
    # Nl: Roman numerals), and `pan.ascii_digits` reads a card number out of those: a name such as "⁴¹¹¹..."
    # would carry a PAN in the clear into the store and every response (issue 19, red team r19g). No
    # character of a Unicode number category is a letter of a name.
    if not _NAME_CHARS.match(cleaned) or any(unicodedata.category(char)[0] == "N" for char in cleaned):
        raise ValueError("letters with single spaces, apostrophes, dots or hyphens only")
    return cleaned


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, str_strip_whitespace=False)


class TokenizeRequest(_Strict):
    """Body of POST /v1/cards: `{pan, expiry_month, expiry_year, cardholder_name}`."""

    pan: str = Field(min_length=MIN_PAN_DIGITS, max_length=MAX_PAN_DIGITS, repr=False)
    expiry_month: int = Field(ge=1, le=12)
    expiry_year: int = Field(ge=2000, le=2099)
    cardholder_name: str = Field(min_length=MIN_NAME_CHARS, max_length=MAX_NAME_CHARS * 4)

    @model_validator(mode="before")
    @classmethod
    def _no_sensitive_authentication_data(cls, data: Any) -> Any:
        refuse_sad_fields(data)
        return data

    @field_validator("pan")
    @classmethod
    def _pan(cls, value: str) -> str:
        if not value.isascii() or not value.isdigit():
            raise ValueError("must be 13-19 digits")
        if not luhn_valid(value):
            raise ValueError("fails the Luhn check")
        if brand_of(value) is None:
            raise ValueError("is not in a known card brand's range and length")
        return value

    @field_validator("cardholder_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return valid_name(value)

    @model_validator(mode="after")
    def _not_expired(self) -> TokenizeRequest:
        _check_expiry(self.expiry_month, self.expiry_year)
        return self

    @property
    def brand(self) -> str:
        brand = brand_of(self.pan)
        assert brand is not None  # checked by the validator
        return brand


def _check_expiry(month: int, year: int) -> None:
    today = dt.datetime.now(dt.UTC).date()
    if (year, month) < (today.year, today.month):
        raise ValueError("card has expired")
    if year > today.year + MAX_EXPIRY_YEARS_AHEAD:
        raise ValueError(f"expiry is more than {MAX_EXPIRY_YEARS_AHEAD} years ahead")


class UpdateRequest(_Strict):
    """Body of PATCH /v1/cards/{token}: a new expiry (month and year together) and/or cardholder name.

    The expiry sent replaces the stored one (an explicit update may shorten it; tokenize never does).
    """

    expiry_month: int | None = Field(default=None, ge=1, le=12)
    expiry_year: int | None = Field(default=None, ge=2000, le=2099)
    cardholder_name: str | None = Field(default=None, min_length=MIN_NAME_CHARS, max_length=MAX_NAME_CHARS * 4)

    @model_validator(mode="before")
    @classmethod
    def _no_sensitive_authentication_data(cls, data: Any) -> Any:
        refuse_sad_fields(data)
        return data

    @field_validator("cardholder_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else valid_name(value)

    @model_validator(mode="after")
    def _something_valid(self) -> UpdateRequest:
        if (self.expiry_month is None) != (self.expiry_year is None):
            raise ValueError("send expiry_month and expiry_year together")
        if self.expiry_month is None and self.cardholder_name is None:
            raise ValueError("send a new expiry, a new cardholder_name, or both")
        if self.expiry_month is not None and self.expiry_year is not None:
            _check_expiry(self.expiry_month, self.expiry_year)
        return self


MAX_BATCH_CARDS = 100


class CardView(BaseModel):
    """The masked view of a stored card (PCI DSS 3.4.1: first six and last four at most)."""

    model_config = ConfigDict(frozen=True)

    token: str
    brand: str
    first6: str
    last4: str
    expiry: str  # "YYYY-MM"


DetokenizeReason = Literal[
    "chargeback",
    "customer_dispute",
    "fraud_investigation",
    "recurring_payment",
    "refund",
    "network_token_provisioning",
    "legal_request",
]
DETOKENIZE_REASONS: tuple[str, ...] = get_args(DetokenizeReason)
TICKET_PATTERN = r"^[A-Z][A-Z0-9]{1,9}-[0-9]{1,10}$"  # a change/case ticket key such as "CASE-2026118"


class DetokenizeRequest(_Strict):
    """Event of the detokenize function: `{token, reason_code, ticket}`.

    The reason is one of `DETOKENIZE_REASONS` and the ticket a case-system key (`TICKET_PATTERN`):
    nothing free-text reaches the log, so no card number or markup can ride along (PCI DSS v4.0.1
    3.4.2, 10.2.1.1).
    """

    token: str = Field(pattern=TOKEN_PATTERN)
    reason_code: DetokenizeReason
    ticket: str = Field(pattern=TICKET_PATTERN, max_length=21)


class PurgeRequest(_Strict):
    """Event of the purge function (EventBridge Scheduler sends `{}`; a dry run counts only)."""

    dry_run: bool = False


ErrorKind = Literal["validation", "sensitive_authentication_data"]


def error_details(err: ValidationError, model: type[BaseModel]) -> list[dict[str, str]]:
    """`[{"field", "reason"}]` from a ValidationError, with nothing the client wrote in it.

    A field is named only when it is one of `model`'s own fields; an unknown field, or any other
    location the client chose, is reported as `body`. The message is pydantic's for the rule,
    never the input or its context (PCI DSS v4.0.1 3.3, 3.4.1, 6.2.4).
    """
    details = []
    for item in err.errors(include_input=False, include_context=False, include_url=False):
        loc = item["loc"]
        field = str(loc[0]) if loc and loc[0] in model.model_fields and item["type"] != "extra_forbidden" else "body"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "literal_error":
            message = "is not one of the allowed values"
        details.append({"field": field, "reason": message})
    return details
