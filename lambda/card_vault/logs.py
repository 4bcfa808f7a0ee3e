"""Logging that cannot leak a card number (PCI DSS v4.0.1 3.3, 3.4.1, 10.2).

`vault_logger()` is a Powertools Logger (JSON, one line per record) whose formatter passes the
finished line (message, extra keys, exception and stack text included) through `mask_pans`.
`PanMaskingFilter` does the same for plain `logging` handlers (libraries' loggers, the local
server). These are the last line of defence: the code never logs card data on purpose.
Traces are kept clean by `card_vault.tracing.traced` (no data recorded), not by masking.

One value is exempt: the Lambda request ID in the line's own `function_request_id` key, when it is the
value the runtime set (`inject_lambda_context` copies `context.aws_request_id`, which Lambda generates
for each invocation; "Using the Lambda context object to retrieve Python function information", Lambda
Developer Guide) and has a UUID's shape. About 1 in 147 random UUIDs holds a Luhn-valid digit run
(digits split by `-` are one run to the normalizer), which masking would partly replace, losing the
line's correlation with CloudTrail and the audit row. The X-Ray trace ID (`xray_trace_id`) is **not**
exempt: its `Root` comes from the request's `X-Amzn-Trace-Id` header when the client sends one ("Request
tracing for your Application Load Balancer", ELB User Guide: a header with a Root field is kept and a Self
field inserted), so a client can write digits into it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from card_vault.pan import mask_pans

SERVICE = "card-vault"
# The shape of a Lambda request ID (a UUID, lower-case hex): the only value `MaskingFormatter` leaves unmasked.
RUNTIME_REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REQUEST_ID_KEY = "function_request_id"
# Stands in for the request ID while the line is masked: letters only, so no digit run can reach across it.
_PLACEHOLDER = "runtimerequestid"


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every Luhn-valid 13-19 digit run masked, except in the runtime's own
    request ID (see the module docstring).

    Masking happens twice. `serialize` masks every string of the record (keys, values, nested lists and
    dicts, and what `json_default` makes of other objects) *before* JSON serialisation: `json.dumps` writes a
    tab, line feed or carriage return as the two characters `\\t`, `\\n`, `\\r` (and other control
    characters as `\\u00XX`), and `t`, `n`, `r`, `u` are no separators to `mask_pans`, so a card number
    split by them is only recognisable before serialisation (red team r19c M3, issue 19). `format` then
    masks the finished line as well (digit runs that span two values).

    The exemption holds only for the first `"function_request_id":"<uuid>"` of the line whose value is the
    one the Logger's Lambda context keys hold (an `extra` that overrides the key with any other value, or a
    client string quoting it, is masked like everything else; inside a JSON string a quote is escaped, so
    no client value can spell the key-value pair). The value is swapped for a letters-only placeholder, the
    whole line is masked, and the value is put back: letters stand on both sides of the pair
    (`"function_request_id":"` and the next key's name), so no digit run of the rest of the line reaches into
    it, and everything else is masked exactly as without the exemption."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        """The record as one JSON line, every string in it masked first (the runtime request ID excepted)."""
        masked = {
            mask_pans(str(key)): value
            if key == REQUEST_ID_KEY
            and isinstance(value, str)
            and value == self.log_format.get(REQUEST_ID_KEY)
            and RUNTIME_REQUEST_ID.fullmatch(value)
            else self._masked(value)
            for key, value in log.items()
        }
        return super().serialize(masked)

    def _masked(self, value: Any, depth: int = 0) -> Any:
        """`value` with every string in it masked; JSON's scalars kept, other objects through `json_default`."""
        if isinstance(value, str):
            return mask_pans(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if depth > 32:  # deeper than any record the vault writes: one masked string
            return mask_pans(str(value))
        if isinstance(value, dict):
            return {mask_pans(str(k)): self._masked(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._masked(v, depth + 1) for v in value]
        return self._masked(self.json_default(value), depth + 1)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        runtime_id = self.log_format.get(REQUEST_ID_KEY)
        if not isinstance(runtime_id, str) or not RUNTIME_REQUEST_ID.fullmatch(runtime_id):
            return mask_pans(line)
        field = f"{json.dumps(REQUEST_ID_KEY)}:{json.dumps(runtime_id)}"
        if field not in line:
            return mask_pans(line)
        kept = f"{json.dumps(REQUEST_ID_KEY)}:{json.dumps(_PLACEHOLDER)}"
        masked = mask_pans(line.replace(field, kept, 1))
        return masked.replace(kept, field, 1)


class PanMaskingFilter(logging.Filter):
    """Masks card numbers in a record's message, arguments and exception text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_pans(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pans(record.exc_text)
        record.exc_info = None if record.exc_text else record.exc_info
        return True


def vault_logger(**kwargs: Any) -> Logger:
    """The service's Logger; keyword arguments go to Powertools' Logger."""
    return Logger(service=SERVICE, logger_formatter=MaskingFormatter(), **kwargs)


def install_root_filter() -> None:
    """Mask card numbers in every handler of the root logger (libraries log through it)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PanMaskingFilter) for f in handler.filters):
            handler.addFilter(PanMaskingFilter())


# `PL/pgSQL function vault.tokenize_card(text,...) line 12 at ...` in a database error's CONTEXT: the names only.
_FUNCTION_IN_CONTEXT = re.compile(r"function ([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\(")


def database_error(err: BaseException) -> BaseException | None:
    """The first psycopg error in `err`'s chain (itself, its cause or context), else None. By duck type: importing
    psycopg here would put it in every function's import."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__.startswith("psycopg") and hasattr(current, "sqlstate"):
            return current
        current = current.__cause__ or current.__context__
    return None


def database_error_fields(err: BaseException) -> dict[str, Any]:
    """What may be logged of a database error: its SQLSTATE, constraint and the functions it passed through.

    Never its message, DETAIL or traceback (red team r19d finding 5): a CHECK or unique violation's DETAIL
    prints the failing row, the keyed hash next to first six and last four."""
    diag = getattr(err, "diag", None)
    context = str(getattr(diag, "context", None) or "")
    return {
        "error_type": type(err).__name__,
        "sqlstate": getattr(err, "sqlstate", None),
        "constraint": getattr(diag, "constraint_name", None),
        "functions": sorted(set(_FUNCTION_IN_CONTEXT.findall(context))),
    }


def log_failure(logger: Any, message: str, err: BaseException, **extra: Any) -> None:
    """`logger.exception(message)`, except for a database error anywhere in `err`'s chain: then one error line
    with `database_error_fields` and no exception text or traceback."""
    found = database_error(err)
    if found is None:
        logger.exception(message, extra={"error_type": type(err).__name__, **extra})
        return
    logger.error(message, extra={**extra, **database_error_fields(found), "error_type": type(err).__name__})


class DatabaseFailureError(RuntimeError):
    """A database error with its text left behind: what a scheduled job raises to the Lambda runtime, whose own log
    line and `errorMessage` hold the exception's text and traceback."""


def without_database_detail(err: BaseException) -> BaseException:
    """`err`, or a `DatabaseFailureError` naming only `database_error_fields` when a database error is in its chain."""
    found = database_error(err)
    if found is None:
        return err
    fields = database_error_fields(found)
    return DatabaseFailureError(
        f"database error {fields['error_type']} SQLSTATE {fields['sqlstate']}"
        f" constraint {fields['constraint']} functions {','.join(fields['functions']) or '-'}"
    )
